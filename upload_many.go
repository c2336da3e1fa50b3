package perseus

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sync/errgroup"
)

// maxFindValues is how many hashes UploadFiles puts in one find: the most a
// Perseus server accepts.
const maxFindValues = 1000

// WithNames names the files of UploadFiles: names[i] is the name of
// paths[i] (instead of its base name), e.g. its path relative to a
// directory, such as "reports/a/x.txt". There must be one per path.
func WithNames(names []string) UploadOption { return func(c *uploadConfig) { c.names = names } }

// UploadResult is what became of one path given to UploadFiles.
type UploadResult struct {
	Path  string
	File  *File // the file, when Err is nil
	Err   error
	Known bool // the server already had the content: nothing was sent
}

// UploadFiles uploads the files at paths and returns one result per path,
// in the order given. It hashes every file first, then asks the server in
// one find (one per 1000 hashes) which contents it already has: those are
// returned without sending anything. The rest are uploaded as UploadFile
// does, a few at once (WithConcurrency), each content once even if several
// paths hold it. Where the server offers batch creates (Limits.BatchCreate),
// the records of files sent in one PUT are created many per request, while
// the files before them are sent (CreateFiles); and where it also takes
// batch uploads (Limits.BatchContent), the bytes of those of up to 4 MiB go
// many per request too (POST /api/v0/file/batch/content), which the server
// makes durable together, several such requests at once; a file a batch
// did not settle for a reason a retry may fix is PUT alone. Each file is named by its
// base name, or by its entry in WithNames; WithName is ignored.
// A file that UploadFile would send in one pass (or, with
// WithStream(true), stream) and whose size no other path has is not hashed
// first but sent so, which sends nothing when the caller has a file of its
// size (it is then hashed and goes as above).
// WithProgress reports each file's bytes and, in BatchSent and BatchTotal,
// the bytes of every file to send, with one last report per file (Done).
func (s *FileService) UploadFiles(ctx context.Context, paths []string, opts ...UploadOption) []UploadResult {
	cfg := newUploadConfig(opts)
	cfg.batch = &batch{}
	results := make([]UploadResult, len(paths))
	digests := make([]digest, len(paths))
	if cfg.names != nil && len(cfg.names) != len(paths) {
		err := fmt.Errorf("perseus: UploadFiles: %d names (WithNames) for %d paths", len(cfg.names), len(paths))
		for i := range results {
			results[i] = UploadResult{Path: paths[i], Err: err}
		}
		return results
	}
	streams := s.streams(ctx, paths, cfg) // > 0: the size of a file tried by stream, not hashed here
	// Each file's error is its result's: it stops no other file, so the
	// goroutines return nil and the group has no context to cancel.
	var hashing errgroup.Group
	hashing.SetLimit(cfg.concurrency)
	for i := range paths {
		hashing.Go(func() error {
			results[i].Path = paths[i]
			if err := ctx.Err(); err != nil {
				results[i].Err = err
			} else if streams[i] == 0 {
				digests[i], results[i].Err = s.digest(ctx, paths[i], cfg)
			}
			return nil
		})
	}
	hashing.Wait()

	known := s.uploaded(ctx, results, digests)
	first := map[string]int{} // hash → the index that sends it
	var send []int
	for i, d := range digests {
		switch f := known[d.hash]; {
		case streams[i] > 0:
			send = append(send, i)
			cfg.batch.total.Add(streams[i])
		case results[i].Err != nil:
		case f != nil:
			results[i].File, results[i].Known = f, true
		default:
			if _, dup := first[d.hash]; !dup {
				first[d.hash] = i
				send = append(send, i)
				cfg.batch.total.Add(d.size)
			}
		}
	}
	nameOf := func(i int) string {
		if cfg.names != nil {
			return cfg.names[i]
		}
		return filepath.Base(paths[i])
	}
	var sending errgroup.Group // as above: a failed file stops no other
	sending.SetLimit(cfg.concurrency)
	sendOne := func(c created) {
		sending.Go(func() error {
			i, fc := c.i, cfg
			fc.name = nameOf(i)
			tr := newTracker(paths[i], max(digests[i].size, streams[i]), fc)
			if c.ok {
				results[i].File, results[i].Known, results[i].Err = s.uploadCreated(ctx, paths[i], digests[i], c.res, fc, tr)
			} else {
				results[i].File, results[i].Err = s.uploadOne(ctx, paths[i], digests[i], streams[i] > 0, fc, tr)
			}
			tr.finish(results[i].Err)
			return nil
		})
	}
	batched, rest, most := s.batchable(ctx, send, digests, streams)
	specs := make([]NewFile, len(batched))
	for j, i := range batched {
		specs[j] = NewFile{Name: nameOf(i), SourceHash: digests[i].hash}
	}
	ahead := s.createAhead(ctx, batched, specs, most, cfg.concurrency) // creating while the rest go
	for _, i := range rest {
		sendOne(created{i: i})
	}
	// The small files created go many per batch upload, where the server
	// takes them (upload_many_content.go); the others one PUT each.
	var maxFiles int
	var maxBytes, total int64
	if len(batched) > 1 {
		maxFiles, maxBytes = s.batchContentLimits(ctx)
		for _, i := range batched {
			total += digests[i].size
		}
		// Enough batches to keep every sender busy, none too small to share its syncs.
		maxBytes = min(maxBytes, max(1<<20, total/int64(cfg.concurrency)))
	}
	var pack contentBatch
	flush := func() {
		if len(pack.files) > 0 {
			b := pack
			pack = contentBatch{}
			sending.Go(func() error { s.sendBatch(ctx, b, paths, digests, results, cfg, nameOf); return nil })
		}
	}
	for c := range ahead {
		size := digests[c.i].size
		if maxFiles == 0 || !c.ok || c.res.Err != nil || size > batchFileMax || size > maxBytes ||
			c.res.MaxFileSize > 0 && size > c.res.MaxFileSize {
			sendOne(c)
			continue
		}
		if len(pack.files) == maxFiles || pack.size+size > maxBytes {
			flush()
		}
		pack.files, pack.size = append(pack.files, c), pack.size+size
	}
	flush()
	sending.Wait()
	for i, d := range digests {
		if j, ok := first[d.hash]; ok && j != i && results[i].Err == nil {
			results[i].File, results[i].Err, results[i].Known = results[j].File, results[j].Err, results[j].Known
		}
	}
	return results
}

// streams returns, for each path, its size if UploadFiles sends it before
// hashing it, or 0: what UploadFile would send so (uploadUnhashed), but
// only a file whose size no other of them has, lest copies of one new file
// all go at once.
func (s *FileService) streams(ctx context.Context, paths []string, cfg uploadConfig) []int64 {
	out := make([]int64, len(paths))
	count := map[int64]int{}
	for i, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if s.unhashed(ctx, fi, cfg) {
			out[i] = fi.Size()
			count[out[i]]++
		}
	}
	for i, n := range out {
		if count[n] > 1 {
			out[i] = 0
		}
	}
	return out
}

// uploadOne sends one file of UploadFiles: if streamed, before hashing it
// (uploadUnhashed), else (or if the server says so) hashed first.
func (s *FileService) uploadOne(ctx context.Context, path string, d digest, streamed bool, cfg uploadConfig, tr *tracker) (*File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if streamed {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		if f, ok, err := s.uploadUnhashed(ctx, path, fi, &cfg, tr); ok {
			return f, err
		}
		if d, err = s.digest(ctx, path, cfg); err != nil {
			return nil, err
		}
	}
	return s.uploadHashed(ctx, path, d, cfg, tr)
}

// uploaded returns the uploaded files among those hashed, by hash. If the
// server cannot answer, it returns what it has: each upload then learns of
// content the server has from create's 409, still without sending it.
func (s *FileService) uploaded(ctx context.Context, results []UploadResult, digests []digest) map[string]*File {
	var hashes []string
	seen := map[string]bool{}
	for i, d := range digests {
		if results[i].Err == nil && d.hash != "" && !seen[d.hash] { // "": to be streamed
			seen[d.hash] = true
			hashes = append(hashes, d.hash)
		}
	}
	known := map[string]*File{}
	for len(hashes) > 0 {
		chunk := hashes[:min(len(hashes), maxFindValues)]
		hashes = hashes[len(chunk):]
		files, err := s.FindFiles(ctx, FindQuery{SourceHashes: chunk})
		if err != nil {
			if ctx.Err() != nil {
				return known
			}
			continue
		}
		for _, f := range files {
			if f.Status == StatusUploaded && known[f.SourceHash] == nil {
				known[f.SourceHash] = f
			}
		}
	}
	return known
}
