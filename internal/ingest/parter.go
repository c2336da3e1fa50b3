package ingest

import (
	"context"
	"errors"
	"time"

	"github.com/perseus-go/perseus/internal/sign"
	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/meta"
)

// session is one unfinished multipart upload of a record.
type session struct {
	tok     uploadToken
	storeID string    // the store's upload id (S3); empty for uploads through the server
	key     string    // the object the upload creates (S3)
	started time.Time // when it began (S3); through the server, when it was last written to
	// foreign says which signing key began an upload this server cannot
	// go on with: another replica, with another key, started it.
	foreign *sign.UnknownKeyError
}

// listed returns the session of an uploadId found in the store, and
// whether it is one: the core's own, or one signed with a key this server
// does not have (foreign), which it reports rather than silently ignore.
func listed(tok uploadToken, err error) (session, bool) {
	var uk *sign.UnknownKeyError
	switch {
	case err == nil:
		return session{tok: tok}, true
	case errors.As(err, &uk):
		return session{tok: tok, foreign: uk}, true
	}
	return session{}, false
}

// parter keeps multipart uploads: in the store itself (S3: directParts,
// parts straight to the store; relayedParts, parts through the server), or
// sent through the server into an assembly (assembledParts, local disk).
// New picks one for the store, once.
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
	// partURL returns where to PUT part p, and the headers to send with it;
	// an empty URL when it goes through the server (createPart).
	partURL(ctx context.Context, rec meta.File, sess session, p blob.Part, exp time.Time) (string, map[string]string, error)
	// createPart starts storing part p of rec's upload tok, sent through
	// the server; the writer's Commit fails with blob.ErrPartMismatch,
	// keeping nothing, unless it got exactly p.Size bytes hashing to
	// p.SHA256. ErrNotIssued where parts go straight to the store.
	createPart(ctx context.Context, rec meta.File, tok uploadToken, p blob.Part) (blob.Writer, error)
	// complete makes parts (one per number, in order) rec's content,
	// verified, and returns the settled record.
	complete(ctx context.Context, rec meta.File, sess session, parts []blob.Part) (meta.File, error)
	// completing reports whether a complete of upload tok was begun in
	// the store, which may have finished it with its answer lost, or be at
	// it still: its upload may then be gone before its object is there.
	completing(ctx context.Context, rec meta.File, tok uploadToken) (bool, error)
	// forget drops what is kept of upload tok once the file has its verdict.
	forget(ctx context.Context, rec meta.File, tok uploadToken) error
	// abort discards an upload and its parts.
	abort(ctx context.Context, rec meta.File, sess session) error
	// removeAll discards every unfinished upload of rec.
	removeAll(ctx context.Context, rec meta.File) error
	// sweep discards every unfinished upload of any record that began (S3)
	// or was last written to (through the server) before before, and
	// returns how many it discarded.
	sweep(ctx context.Context, before time.Time) (int, error)
	// chained reports whether the parts of uploads begun now may be
	// chained (PartRef.From).
	chained() bool
	// chainedFor reports whether the parts of upload tok may be chained:
	// as chained() says for uploads begun now, but an upload keeps the way
	// it began (relayed or direct, on S3) when the setting changes.
	chainedFor(tok uploadToken) bool
	// openUploads counts tenant's open uploads (multipart_open.go) that
	// hold something in the store.
	openUploads(ctx context.Context, tenant string) (int, error)
}
