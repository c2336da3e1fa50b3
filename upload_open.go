package perseus

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"

	"golang.org/x/sync/errgroup"
)

// A new file larger than a part goes in one pass, by default: its parts
// leave as soon as they are hashed, before the whole file's hash is known
// (an open upload, POST /api/v0/file/multipart), so that reading, hashing
// and sending overlap instead of the file being hashed whole first. Once
// the hash is known, the file is looked for: content the server has stops
// the upload, which is discarded. The server records the file when the
// upload completes, under the hash sent then, which it verifies. The
// upload is remembered in a small state file (upload_resume.go), so that
// uploading the file again after an interruption sends only the parts the
// server lacks.

// errKnownContent stops the parts of an open upload whose content the
// server turned out to have.
var errKnownContent = errors.New("perseus: the server has this content")

// openPlan returns the part size of an open upload of a file of size
// bytes, or 0 when it goes another way: it fits one part, the caller asked
// to hash first, or the server does not offer open uploads.
func (s *FileService) openPlan(ctx context.Context, size int64, cfg uploadConfig) (int64, Limits) {
	if cfg.hashFirst || size <= cfg.partSize {
		return 0, Limits{}
	}
	l, err := s.Limits(ctx) // an error shows again, on the usual way
	if err != nil || !l.OpenMultipart || (l.MaxFileSize > 0 && size > l.MaxFileSize) {
		return 0, l
	}
	ps, err := planParts(size, cfg.partSize, l)
	if err != nil {
		return 0, l
	}
	return ps, l
}

// uploadOpen sends the file at path (fi) in one pass, in parts of
// partSize. ok is false when the caller should upload the usual way
// (hash first): the server told it to (it has a file of this size, or a
// pending file has this content), before anything was recorded.
func (s *FileService) uploadOpen(ctx context.Context, path string, fi os.FileInfo, partSize int64, l Limits, cfg uploadConfig, tr *tracker) (f *File, ok bool, err error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, true, err
	}
	defer file.Close()
	st := s.resumeState(path, fi, partSize, cfg)
	up, resumed, err := s.openOrResume(ctx, st, fi.Size(), partSize)
	var ae *APIError
	if errors.As(err, &ae) && ae.Code == "hash_first" {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	if !resumed {
		st.save(up)
	}
	od := newOpenDigest(fi.Size(), partSize, up.chained(l, partSize))
	base := "/api/v0/file/" + url.PathEscape(up.FileID) + "/multipart/" + url.PathEscape(up.UploadID)
	f, err = s.sendOpen(ctx, file, base, up, od, cfg, tr)
	switch {
	case errors.Is(err, errKnownContent):
		s.abortOpen(ctx, base)
		st.remove()
		return f, true, nil
	case err != nil:
		return nil, true, err // the upload stays, for a run again to resume
	}
	f, err = s.completeOpen(ctx, file, base, up.FileID, od.digest(), cfg, tr)
	if errors.As(err, &ae) && ae.Code == "content_pending" {
		s.abortOpen(ctx, base)
		st.remove()
		return nil, false, nil
	}
	if err == nil {
		st.remove()
	}
	return f, true, err
}

// openOrResume resumes the upload st remembers, if the server still has
// it with this plan, or begins a new one.
func (s *FileService) openOrResume(ctx context.Context, st *resumeState, size, partSize int64) (up multipartUpload, resumed bool, err error) {
	if st.FileID != "" && st.UploadID != "" {
		err := s.client.call(ctx, http.MethodGet, "/api/v0/file/"+url.PathEscape(st.FileID)+"/multipart", nil, &up)
		if err == nil && up.UploadID == st.UploadID && up.Size == size && up.PartSize == partSize && up.FileID == st.FileID {
			return up, true, nil
		}
		var ae *APIError
		if err != nil && !(errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound) {
			return up, false, err // not a reason to start over (e.g. 403 signing_key_unknown: a replica lacks a key)
		}
		st.remove() // gone: completed, aborted or swept; or a plan of its own
	}
	up = multipartUpload{}
	err = s.client.call(ctx, http.MethodPost, "/api/v0/file/multipart", map[string]int64{"size": size, "partSize": partSize}, &up)
	if err == nil && (up.UploadID == "" || up.FileID == "" || up.Size != size || up.PartSize != partSize) {
		err = fmt.Errorf("perseus: the server answered an open upload of %d bytes in parts of %d; asked for %d in parts of %d", up.Size, up.PartSize, size, partSize)
	}
	return up, false, err
}

// sendOpen hashes the file and sends its parts as they are hashed, up to
// cfg.parallel at once, skipping those the server holds already (up.Parts,
// when they match). Once the whole file's hash is known it looks for a
// file with that content; if the server has one uploaded, it stops the
// parts and returns that file with errKnownContent.
func (s *FileService) sendOpen(ctx context.Context, file *os.File, base string, up multipartUpload, od *openDigest, cfg uploadConfig, tr *tracker) (*File, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go od.run(ctx, file)

	var known *File // the uploaded file with this content, if any
	checked := make(chan error, 1)
	go func() {
		// Wait for run to end even when ctx is done (it ends soon after),
		// so that nothing here reads od.err while run may still set it.
		<-od.whole
		if ctx.Err() != nil {
			checked <- context.Cause(ctx)
			return
		}
		if od.err != nil {
			cancel(od.err)
			checked <- od.err
			return
		}
		// A find that fails costs only the early stop: completing finds
		// content the server has all the same.
		files, _ := s.FindFiles(ctx, FindQuery{SourceHashes: []string{od.sum}})
		for _, f := range files {
			if f.Status == StatusUploaded && known == nil {
				known = f
				cancel(errKnownContent)
			}
		}
		checked <- nil
	}()

	held := map[int]storedPart{}
	for _, p := range up.Parts {
		held[p.PartNumber] = p
	}
	count := len(od.ready)
	todo := make([]int, count)
	for i := range todo {
		todo[i] = i + 1
	}
	urls := newPartURLs(s, base, od.d, todo, od.known)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.parallel)
	for n := 1; n <= count; n++ {
		select {
		case <-od.ready[n-1]:
		case <-gctx.Done():
		}
		if gctx.Err() != nil {
			break
		}
		if p, ok := held[n]; ok && od.d.ref(n) == (partRef{n, p.SHA256, p.From}) && p.Size == od.d.partLen(n) {
			tr.add(p.Size)
			continue
		}
		g.Go(func() error { return s.sendPart(gctx, file, urls, n, od.d, tr) })
	}
	err := g.Wait()
	if err != nil {
		cancel(err) // a part failed: stop hashing too (a cause set before, such as errKnownContent, stays)
	}
	cerr := <-checked
	switch {
	case known != nil:
		return known, errKnownContent
	case od.err != nil && !errors.Is(od.err, context.Canceled):
		return nil, od.err // the file could not be read, or changed
	case err != nil:
		return nil, err
	case ctx.Err() != nil:
		return nil, context.Cause(ctx)
	}
	return nil, cerr
}

// completeOpen completes the open upload at base: the server records the
// file as cfg.name with the hash d.hash and verifies its bytes. Parts that
// went missing meanwhile (swept) are sent again once.
func (s *FileService) completeOpen(ctx context.Context, file *os.File, base, id string, d digest, cfg uploadConfig, tr *tracker) (*File, error) {
	body := struct {
		Name   string    `json:"name"`
		SHA256 string    `json:"sha256"`
		Parts  []partRef `json:"parts"`
	}{cfg.name, d.hash, d.refs(allParts(len(d.parts)))}
	for round := 1; ; round++ {
		var out File
		err := s.client.call(ctx, http.MethodPost, base+"/complete", body, &out)
		var ae *APIError
		if errors.As(err, &ae) && ae.Code == "parts_missing" && round == 1 {
			var up multipartUpload
			if err := s.client.call(ctx, http.MethodGet, "/api/v0/file/"+url.PathEscape(id)+"/multipart", nil, &up); err != nil {
				return nil, err
			}
			held := map[int]bool{}
			for _, p := range up.Parts {
				held[p.PartNumber] = d.ref(p.PartNumber) == (partRef{p.PartNumber, p.SHA256, p.From})
			}
			var todo []int
			for n := 1; n <= len(d.parts); n++ {
				if !held[n] {
					todo = append(todo, n)
				}
			}
			for _, n := range todo {
				tr.add(-d.partLen(n)) // counted when they went the first time
			}
			if err := s.sendParts(ctx, file, base, d, todo, cfg.parallel, tr); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		return &out, nil
	}
}

// abortOpen discards the open upload at base; it is the sweeper's if that
// fails.
func (s *FileService) abortOpen(ctx context.Context, base string) {
	s.client.call(context.WithoutCancel(ctx), http.MethodDelete, base, nil, nil)
}
