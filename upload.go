package perseus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/perseus-go/perseus/internal/sha256chain"
)

// UploadFile sends a file one of these ways, each in a file of its own:
// upload_put.go (one PUT), upload_parts.go (in parts, resumable),
// upload_resumable.go (a new large file in order through tus, before
// hashing, resumable: the default where offered), upload_open.go (a new
// large file in parts before hashing, resumable) and upload_stream.go
// (before hashing, not resumable, opt-in). UploadFiles (upload_many.go)
// sends many the same ways.

// DefaultPartSize is the part size UploadFile aims for: larger files go in
// parts of about this size (more when the server's limits demand it).
const DefaultPartSize = 16 << 20

// DefaultParallelParts is how many parts of one file are sent at once.
const DefaultParallelParts = 4

// UploadOption configures UploadFile.
type UploadOption func(*uploadConfig)

// uploadConfig is what the UploadOptions set.
type uploadConfig struct {
	name        string
	progress    func(Progress)
	partSize    int64    // the part size aimed for; larger files go in parts
	parallel    int      // parts of one file sent at once
	concurrency int      // files UploadFiles sends at once
	batch       *batch   // UploadFiles' totals, if this upload is one of them
	stream      bool     // send new large files before hashing them (WithStream)
	hashFirst   bool     // hash the whole file before sending a byte (WithHashFirst)
	parts       bool     // send a new large file in parallel parts, not in order through tus (WithParts)
	resumeDir   string   // where open uploads are remembered; "-": the default, "": nowhere (WithResumeDir)
	size        int64    // what UploadReader will read, or -1: unknown (WithSize)
	names       []string // UploadFiles: the name of each path (WithNames)
}

// newUploadConfig returns the defaults changed by opts.
func newUploadConfig(opts []UploadOption) uploadConfig {
	cfg := uploadConfig{partSize: DefaultPartSize, parallel: DefaultParallelParts, concurrency: 4, size: -1, resumeDir: "-"}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// WithName sets the file's name instead of the path's base name.
func WithName(name string) UploadOption { return func(c *uploadConfig) { c.name = name } }

// WithProgress calls fn as bytes are sent. fn must be quick; it runs on the
// goroutines of the HTTP transport that write the bodies, several at once
// when parts go in parallel, so it must be safe for concurrent use. When an
// attempt fails, Sent falls back by what that attempt had sent.
func WithProgress(fn func(Progress)) UploadOption { return func(c *uploadConfig) { c.progress = fn } }

// WithPartSize sets the part size aimed for; files larger than one part go
// in parts when the server offers multipart uploads. The server's limits
// may raise it.
func WithPartSize(n int64) UploadOption {
	return func(c *uploadConfig) {
		if n > 0 {
			c.partSize = n
		}
	}
}

// WithParallelParts sets how many parts of one file are sent at once.
func WithParallelParts(n int) UploadOption {
	return func(c *uploadConfig) {
		if n > 0 {
			c.parallel = n
		}
	}
}

// WithStream(true) sends a new file larger than the part size before it is
// hashed, where the server offers that (Limits.StreamMaxSize): the server
// hashes the bytes as they arrive, so the file is read once, not twice, and
// hashing overlaps sending. It is off by default because a stream is not
// resumable: if it fails, UploadFile goes on the default way (in order
// through tus, or in parts), and an upload run again after the process
// died sends the whole file again, where those send only what is missing.
// Where the default goes through tus it is about as fast, and resumes.
func WithStream(on bool) UploadOption { return func(c *uploadConfig) { c.stream = on } }

// WithHashFirst(true) hashes a file whole before anything of it is sent,
// and creates its record then, as the v0 contract does. By default a new
// file larger than a part goes in one pass instead, where the server
// offers it: in order through tus, hashed by the server alone, or in parts
// that leave as they are hashed (WithParts); the record is made when the
// bytes are all there. One pass takes about as long as the slower of
// hashing and sending; hashing first takes the two one after the other,
// but sends nothing of content the server has, where one pass sends some
// or all of it when that content arrives by another way meanwhile (a
// server where the caller has an uploaded file of the same size has the
// client hash first, so content the caller had before sends nothing).
func WithHashFirst(on bool) UploadOption { return func(c *uploadConfig) { c.hashFirst = on } }

// WithParts(true) sends a new file larger than a part in parts, several
// at once (WithParallelParts), each hashed here as it leaves, instead of in
// order through the server's tus endpoint, which the server hashes as the
// bytes arrive. Both go in one pass and resume. In order is the default
// where the server checks a whole-file checksum there (Limits.FileChecksum):
// the file's SHA-256 is computed once, by the server, where parts compute it
// on both sides. Parts are the faster way where one connection cannot carry
// what the link can (a long path with loss), and the way on a server that
// does not offer tus with that checksum.
func WithParts(on bool) UploadOption { return func(c *uploadConfig) { c.parts = on } }

// WithResumeDir sets the directory in which uploads in one pass are
// remembered until they complete, so that uploading the file again after
// an interruption resumes where the server's parts end; "" remembers
// nothing. By default it is perseus/uploads in os.UserCacheDir.
func WithResumeDir(dir string) UploadOption { return func(c *uploadConfig) { c.resumeDir = dir } }

// WithConcurrency sets how many files UploadFiles hashes and sends at once
// (default 4). Each may send several parts at once (WithParallelParts).
func WithConcurrency(n int) UploadOption {
	return func(c *uploadConfig) {
		if n > 0 {
			c.concurrency = n
		}
	}
}

// UploadFile uploads the file at path: it hashes it in one streaming pass,
// creates the record and PUTs the bytes from the file with a Content-Length,
// never holding the file in memory. If that content is already uploaded, the
// existing file is returned and nothing is sent. The returned file is
// uploaded when the server verified it on the spot, pending when the server
// verifies later (see WaitForFileUpload).
//
// A new file larger than the part size (WithPartSize) goes in one pass
// before it is hashed, where the server offers it: in order through its
// tus endpoint where it prefers that (Limits.TusPreferred: the embedded
// default), hashed there as it arrives and checked end to end by the
// file's CRC-64/NVME, computed here (upload_resumable.go); otherwise, or
// WithParts(true), in parts, several at once (WithParallelParts), each
// hashed here as it leaves and checked by the server. Where the caller has
// an uploaded file of its size, the server has it hashed first, so known
// content sends nothing; a known file larger than a part goes in parts.
// Uploading a file again after an interruption sends only what the server
// does not hold yet. With WithStream(true), a new file goes instead in one
// request before it is hashed: not resumable.
//
// path must be a regular file (or a symbolic link to one), since it is read
// twice: a pipe, a device or /dev/stdin is refused with ErrNotRegularFile
// before anything is recorded; upload such content with UploadReader.
func (s *FileService) UploadFile(ctx context.Context, path string, opts ...UploadOption) (*File, error) {
	return s.uploadPath(ctx, path, newUploadConfig(append([]UploadOption{WithName(filepath.Base(path))}, opts...)))
}

// uploadPath is UploadFile with its options read.
func (s *FileService) uploadPath(ctx context.Context, path string, cfg uploadConfig) (*File, error) {
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		f, ok, err := s.uploadUnhashed(ctx, path, fi, &cfg, newTracker(path, fi.Size(), cfg))
		if ok {
			return f, err
		}
	}
	d, err := s.digest(ctx, path, cfg)
	if err != nil {
		return nil, err
	}
	return s.uploadHashed(ctx, path, d, cfg, newTracker(path, d.size, cfg))
}

// unhashed reports whether a file of fi goes before it is hashed: in one
// stream (WithStream), through the tus endpoint, or in one pass of parts,
// as the server offers them.
func (s *FileService) unhashed(ctx context.Context, fi os.FileInfo, cfg uploadConfig) bool {
	if s.streamable(ctx, fi, cfg) {
		return true
	}
	if _, ok := s.resumable(ctx, fi.Size(), cfg); ok {
		return true
	}
	ps, _ := s.openPlan(ctx, fi.Size(), cfg)
	return ps > 0
}

// uploadUnhashed sends the file at path (fi) before it is hashed, the
// first way of unhashed's the server offers. ok is false when the caller
// should hash it first: no way is offered, or the server said so (it then
// sets cfg.hashFirst, so that no other way asks again).
func (s *FileService) uploadUnhashed(ctx context.Context, path string, fi os.FileInfo, cfg *uploadConfig, tr *tracker) (f *File, ok bool, err error) {
	if s.streamable(ctx, fi, *cfg) {
		if f, ok, err := s.stream(ctx, path, *cfg, tr); ok {
			return f, ok, err
		}
	}
	if l, ok := s.resumable(ctx, fi.Size(), *cfg); ok {
		f, ok, err := s.uploadResumable(ctx, path, fi, l, *cfg, tr)
		switch {
		case ok:
			return f, ok, err
		case !errors.Is(err, errNotTus):
			cfg.hashFirst = true // the server said so: the open way would ask again
			return nil, false, nil
		}
	}
	if ps, l := s.openPlan(ctx, fi.Size(), *cfg); ps > 0 {
		return s.uploadOpen(ctx, path, fi, ps, l, *cfg, tr)
	}
	return nil, false, nil
}

// digest plans how the file at path is sent, in one PUT or in parts within
// the server's limits, then hashes it in one pass accordingly.
func (s *FileService) digest(ctx context.Context, path string, cfg uploadConfig) (digest, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return digest{}, err
	}
	if !fi.Mode().IsRegular() {
		return digest{}, notRegular(path, fi)
	}
	var partSize int64
	if fi.Size() > cfg.partSize {
		l, err := s.Limits(ctx)
		if err != nil {
			return digest{}, err
		}
		if l.MaxFileSize > 0 && fi.Size() > l.MaxFileSize {
			return digest{}, fmt.Errorf("perseus: %s is %d bytes; the server accepts at most %d", path, fi.Size(), l.MaxFileSize)
		}
		if partSize, err = planParts(fi.Size(), cfg.partSize, l); err != nil {
			return digest{}, fmt.Errorf("perseus: %s: %w", path, err)
		}
		if partSize > 0 && l.ChainedParts && partSize%sha256chain.BlockSize == 0 {
			return hashChained(ctx, path, partSize)
		}
	}
	return hashParts(ctx, path, partSize)
}

// uploadHashed uploads the file at path, hashed as d: it creates the
// record, or finds the uploaded file when the server has the content
// already, and sends the bytes in parts or in one PUT, as d plans.
func (s *FileService) uploadHashed(ctx context.Context, path string, d digest, cfg uploadConfig, tr *tracker) (*File, error) {
	res, err := s.CreateFile(ctx, cfg.name, d.hash)
	if errors.Is(err, ErrConflict) {
		return s.existing(ctx, d.hash)
	}
	if err != nil {
		return nil, err
	}
	if res.File == nil || res.UploadURL == "" {
		return nil, errors.New("perseus: create answered without a file or an uploadUrl")
	}
	if res.MaxFileSize > 0 && d.size > res.MaxFileSize {
		return nil, fmt.Errorf("perseus: %s is %d bytes; the server accepts at most %d", path, d.size, res.MaxFileSize)
	}
	if d.partSize > 0 {
		return s.uploadParts(ctx, path, res.File, d, cfg, tr)
	}
	return s.uploadPut(ctx, path, res, d, cfg, tr)
}

// ErrNotRegularFile is the error of UploadFile and UploadFiles for a path
// that is not a regular file: a directory, a pipe, a device (such as
// /dev/stdin on a terminal or a pipe) or a socket. Nothing is recorded for
// it. Content that can be read only once goes with UploadReader.
var ErrNotRegularFile = errors.New("not a regular file")

// notRegular is the ErrNotRegularFile of path, whose info is fi.
func notRegular(path string, fi os.FileInfo) error {
	kind := "special file"
	switch t := fi.Mode().Type(); {
	case fi.IsDir():
		return fmt.Errorf("perseus: %s is a directory, %w", path, ErrNotRegularFile)
	case t&os.ModeNamedPipe != 0:
		kind = "pipe"
	case t&os.ModeSocket != 0:
		kind = "socket"
	case t&os.ModeDevice != 0:
		kind = "device"
	}
	return fmt.Errorf("perseus: %s is a %s, %w: UploadFile reads a file twice (to hash it, then to send it) and a %s can be read once; upload its content with UploadReader",
		path, kind, ErrNotRegularFile, kind)
}

// existing returns the uploaded file holding content with this hash.
func (s *FileService) existing(ctx context.Context, hash string) (*File, error) {
	files, err := s.FindFiles(ctx, FindQuery{SourceHashes: []string{hash}})
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if f.Status == StatusUploaded {
			return f, nil
		}
	}
	if len(files) > 0 {
		return files[0], nil
	}
	return nil, fmt.Errorf("perseus: the server said content %s exists, but find does not return it: %w", hash, ErrNotFound)
}
