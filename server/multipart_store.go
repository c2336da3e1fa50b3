package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// session is one unfinished multipart upload of a record.
type session struct {
	tok     uploadToken
	storeID string    // the store's upload id (S3); empty for uploads through this server
	key     string    // the object the upload creates (S3)
	started time.Time // when it began (S3); through this server, when it was last written to
}

// parter keeps multipart uploads: in the store itself (S3), or sent
// through this server into an assembly (local disk) or into part objects
// (any other store).
type parter interface {
	// sessions lists rec's unfinished uploads.
	sessions(ctx context.Context, rec meta.File) ([]session, error)
	// session finds rec's upload tok; found is false when there is none.
	session(ctx context.Context, rec meta.File, tok uploadToken) (sess session, found bool, err error)
	// start begins an upload with plan's size and part size; the session's
	// token may have a nonce of its own.
	start(ctx context.Context, rec meta.File, plan uploadToken) (session, error)
	// parts lists the parts stored, possibly several with one number.
	parts(ctx context.Context, rec meta.File, sess session) ([]blob.Part, error)
	// partURL returns where to PUT part p, and the headers to send with it.
	partURL(r *http.Request, rec meta.File, sess session, p blob.Part, exp time.Time) (string, map[string]string, error)
	// complete makes parts (one per number, in order) rec's content, verified,
	// and returns the settled record.
	complete(ctx context.Context, rec meta.File, sess session, parts []blob.Part) (meta.File, *Error)
	// abort discards an upload and its parts.
	abort(ctx context.Context, rec meta.File, sess session) error
	// removeAll discards every unfinished upload of rec.
	removeAll(ctx context.Context, rec meta.File) error
	// sweep discards every unfinished upload of any record that began (S3)
	// or was last written to (through this server) before before, and
	// returns how many it discarded.
	sweep(ctx context.Context, before time.Time) (int, error)
}

// partReceiver is a parter whose parts are PUT to this server (handlePartUpload).
type partReceiver interface {
	// createPart starts storing part p of rec's upload tok. The writer's
	// Commit fails with blob.ErrPartMismatch, keeping nothing, unless it got
	// exactly p.Size bytes hashing to p.SHA256.
	createPart(ctx context.Context, rec meta.File, tok uploadToken, p blob.Part) (blob.Writer, error)
}

// parter returns how this server's store keeps multipart uploads.
func (s *Server) parter() parter {
	switch b := s.cfg.Blobs.(type) {
	case blob.Multiparter:
		return directParts{s, b}
	case blob.Assembler:
		return assembledParts{s, b}
	}
	return serverParts{s}
}

// SweepMultipart discards every unfinished multipart upload that began (in
// the store) or was last written to (through this server) before before,
// with the parts it holds, and returns how many it discarded. A client
// resuming such an upload later starts it again. The lifecycle sweeper
// calls it with a cutoff well beyond any upload still in progress.
func (s *Server) SweepMultipart(ctx context.Context, before time.Time) (int, error) {
	return s.parter().sweep(ctx, before)
}

// partURLHere is the URL of this server that takes part p of upload sess,
// signed over everything the part must be.
func (s *Server) partURLHere(r *http.Request, rec meta.File, sess session, p blob.Part, exp time.Time) (string, map[string]string, error) {
	c := partClaims{tenant: rec.Tenant, hash: rec.SourceHash, upload: sess.tok.String(), part: p.Number, size: p.Size, sha256: p.SHA256, from: p.From}
	return s.baseURL(r) + "/upload/" + rec.ID + "/parts/" + strconv.Itoa(p.Number) + "?" + s.sign.partQuery(rec.ID, c, exp), nil, nil
}
