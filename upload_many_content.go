package perseus

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
)

// How UploadFiles sends the bytes of small new files where the server
// takes them in batches (Limits.BatchContent): the files a batch create
// answered go many per request to POST /api/v0/file/batch/content, which
// makes them durable together, instead of one PUT each; several such
// requests are in flight at once (WithConcurrency).

// batchFileMax is the largest file UploadFiles sends in a batch, and
// batchBytes the most bytes of files it puts in one (less where the
// server takes less): small enough that a few batches are in flight at
// once for a few hundred MiB of small files, large enough that each shares
// its syncs among tens of files.
const (
	batchFileMax = 4 << 20
	batchBytes   = 16 << 20
)

// contentBatch is the files of one batch upload, in order.
type contentBatch struct {
	files []created
	size  int64
}

// batchFiles is the body of one batch upload: a line naming the files and
// their sizes, then their bytes. Each attempt reads the files afresh.
type batchFiles struct {
	head  []byte
	paths []string
	sizes []int64
}

func newBatchFiles(ids, paths []string, sizes []int64) (*batchFiles, error) {
	type piece struct {
		ID   string `json:"id"`
		Size int64  `json:"size"`
	}
	m := struct {
		Files []piece `json:"files"`
	}{}
	for i, id := range ids {
		m.Files = append(m.Files, piece{id, sizes[i]})
	}
	head, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return &batchFiles{head: append(head, '\n'), paths: paths, sizes: sizes}, nil
}

// length is the body's length.
func (b *batchFiles) length() int64 {
	n := int64(len(b.head))
	for _, s := range b.sizes {
		n += s
	}
	return n
}

// open returns one attempt's body: the files, each opened as it is
// reached and closed at its end, exactly their sizes of them.
func (b *batchFiles) open() io.ReadCloser {
	return &batchReader{b: b, cur: bytes.NewReader(b.head), next: 0}
}

type batchReader struct {
	b    *batchFiles
	cur  io.Reader
	f    *os.File
	next int
	// The transport may close the body from another goroutine while its
	// write loop reads it: mu keeps Close and advance apart, and a closed
	// reader opens no more files.
	mu     sync.Mutex
	closed bool
}

func (r *batchReader) Read(p []byte) (int, error) {
	for {
		n, err := r.cur.Read(p)
		if n > 0 || (err != nil && err != io.EOF) {
			return n, err
		}
		if err := r.advance(); err != nil {
			return 0, err
		}
	}
}

// advance closes the file just read and opens the next, or returns io.EOF
// after the last.
func (r *batchReader) advance() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return os.ErrClosed
	}
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
	if r.next == len(r.b.paths) {
		r.cur = bytes.NewReader(nil)
		return io.EOF
	}
	f, err := os.Open(r.b.paths[r.next])
	if err != nil {
		return localError{err}
	}
	r.f, r.cur = f, &exactly{r: io.LimitReader(f, r.b.sizes[r.next]), left: r.b.sizes[r.next], path: r.b.paths[r.next]}
	r.next++
	return nil
}

// sendTo writes the rest of the body to c: the head as it is, and each
// file's bytes by c.ReadFrom from the file itself, which over TCP is
// sendfile(2), from the page cache to the socket without the copy through
// this process that Read makes. A file that ends early fails as with Read.
func (r *batchReader) sendTo(c io.ReaderFrom) (int64, error) {
	var n int64
	for {
		var m int64
		var err error
		if e, ok := r.cur.(*exactly); ok {
			m, err = c.ReadFrom(&io.LimitedReader{R: r.f, N: e.left})
			if e.left -= m; err == nil && e.left > 0 {
				err = e.short()
			}
		} else {
			m, err = c.ReadFrom(r.cur)
		}
		if n += m; err != nil {
			return n, err
		}
		if err := r.advance(); err == io.EOF {
			return n, nil
		} else if err != nil {
			return n, err
		}
	}
}

// remaining is how many bytes the body has left to give.
func (r *batchReader) remaining() int64 {
	var n int64
	switch cur := r.cur.(type) {
	case *exactly:
		n = cur.left
	case *bytes.Reader:
		n = int64(cur.Len())
	}
	for _, s := range r.b.sizes[r.next:] {
		n += s
	}
	return n
}

func (r *batchReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.f != nil {
		return r.f.Close()
	}
	return nil
}

// exactly reads left bytes of r, failing if r ends before: a file that
// shrank since it was hashed.
type exactly struct {
	r    io.Reader
	left int64
	path string
}

func (e *exactly) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.left -= int64(n)
	switch {
	case err == io.EOF && e.left > 0:
		return n, e.short()
	case err != nil && err != io.EOF:
		return n, localError{err}
	}
	return n, err
}

// short is the error of the file ending early.
func (e *exactly) short() error {
	return localError{fmt.Errorf("perseus: %s ended %d bytes early: it changed since it was hashed", e.path, e.left)}
}

// batchContentItem is one result of POST /api/v0/file/batch/content.
type batchContentItem struct {
	ID      string `json:"id"`
	Status  int    `json:"status"`
	File    *File  `json:"file"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// sendContent sends the bytes of the files of batch (indexes of paths,
// hashed as digests, each with its record from a batch create) in one
// batch upload, and returns for each what its PUT would have returned.
// fallback says, per file, that the batch did not settle it and a retry
// may (the request failed, or the file's answer is one a retry can fix):
// the caller sends those alone.
func (s *FileService) sendContent(ctx context.Context, batch contentBatch, paths []string, digests []digest) (files []*File, errs []error, fallback []bool) {
	const path = "/api/v0/file/batch/content"
	n := len(batch.files)
	files, errs, fallback = make([]*File, n), make([]error, n), make([]bool, n)
	ids, ps, sizes := make([]string, n), make([]string, n), make([]int64, n)
	for k, c := range batch.files {
		ids[k], ps[k], sizes[k] = c.res.File.ID, paths[c.i], digests[c.i].size
	}
	body, err := newBatchFiles(ids, ps, sizes)
	if err != nil {
		for k := range fallback {
			fallback[k] = true
		}
		return
	}
	var ans struct {
		Results []batchContentItem `json:"results"`
	}
	var requestID string
	err = s.client.do(ctx, request{method: http.MethodPost, path: path, body: body}, func(resp *http.Response) error {
		requestID = resp.Header.Get("X-Request-Id")
		return json.NewDecoder(resp.Body).Decode(&ans)
	})
	if err != nil || len(ans.Results) != n {
		if unsupported(err) {
			s.noBatchContent.Store(true)
		}
		for k := range fallback {
			fallback[k] = true
		}
		return
	}
	for k, it := range ans.Results {
		ae := &APIError{StatusCode: it.Status, Code: it.Code, Message: it.Message,
			Method: http.MethodPost, URL: s.client.endpoint(path), RequestID: requestID}
		switch {
		case it.Status == http.StatusOK && it.File != nil && it.File.ID == ids[k]:
			files[k] = it.File
		case it.Status == http.StatusConflict && it.Code == "already_uploaded":
			files[k], errs[k] = s.existing(ctx, digests[batch.files[k].i].hash)
		case retryable(it.Status, false) || it.Code == "upload_incomplete":
			fallback[k] = true
		case it.Status/100 == 2:
			errs[k] = fmt.Errorf("perseus: POST %s answered %d for %s without its file", path, it.Status, ps[k])
		default:
			// As for a PUT (the contract): any 4xx/5xx answer is a failed upload.
			errs[k] = fmt.Errorf("%w: %w", ErrUploadFailed, ae)
		}
	}
	return
}

// batchContentLimits returns the most files and bytes UploadFiles puts in
// one batch upload, or 0, 0 where the server takes none.
func (s *FileService) batchContentLimits(ctx context.Context) (files int, size int64) {
	l, err := s.Limits(ctx)
	if err != nil || l.BatchContent < 2 || l.BatchContentMaxBytes <= 0 || s.noBatchContent.Load() {
		return 0, 0
	}
	return l.BatchContent, min(l.BatchContentMaxBytes, batchBytes)
}

// sendBatch sends the files of batch in one batch upload and sets their
// results; those the batch did not settle, and a retry may, are sent
// alone, each in one PUT to its upload URL.
func (s *FileService) sendBatch(ctx context.Context, batch contentBatch, paths []string, digests []digest,
	results []UploadResult, cfg uploadConfig, nameOf func(int) string) {
	files, errs, fallback := s.sendContent(ctx, batch, paths, digests)
	for k, c := range batch.files {
		i, fc := c.i, cfg
		fc.name = nameOf(i)
		tr := newTracker(paths[i], digests[i].size, fc)
		if fallback[k] {
			results[i].File, results[i].Known, results[i].Err = s.uploadCreated(ctx, paths[i], digests[i], c.res, fc, tr)
		} else {
			results[i].File, results[i].Err = files[k], errs[k]
			if errs[k] == nil {
				tr.add(digests[i].size)
			}
		}
		tr.finish(results[i].Err)
	}
}
