package perseus

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/minio/crc64nvme"
)

// A new file larger than a part goes, by default, in order through the
// server's tus endpoint (Limits.Tus), where the server checks a whole-file
// CRC-64/NVME (Limits.FileChecksum): its bytes leave before the file is
// hashed, and the server hashes them as they arrive, so the file's SHA-256
// is computed once, by the server, where hashing on both sides computes it
// twice (on two cores, two hashes left the default at 1.6× the machine's
// physical work). The client computes the file's CRC-64/NVME beside the
// sending, from the file mapped into memory (about a fifth of a SHA-256's
// cost on data out of the CPU's caches, and a third of the standard
// library's CRC-32C's), and declares it with the last bytes
// (Perseus-File-Checksum), which the server checks before it records the
// file: the bytes are checked end to end still.

// tusTail is what the last request of a resumable upload sends at most:
// the request that carries the whole file's CRC, which the client knows
// only once it has read the file. Everything before it goes in one
// request before.
const tusTail = 1 << 20

// errFileChanged stops an upload of a file that changed while it was sent.
var errFileChanged = errors.New("perseus: the file changed while it was sent")

// resumable reports whether a file of size bytes goes through the tus
// endpoint: larger than a part, the caller asked neither to hash first
// nor for parts, and the server checks whole-file checksums there.
func (s *FileService) resumable(ctx context.Context, size int64, cfg uploadConfig) (Limits, bool) {
	if cfg.hashFirst || cfg.parts || size <= cfg.partSize {
		return Limits{}, false
	}
	l, err := s.Limits(ctx) // an error shows again, on the usual way
	ok := err == nil && l.Tus != "" && l.FileChecksum == "crc64nvme" &&
		(l.TusMaxSize <= 0 || size <= l.TusMaxSize) && (l.MaxFileSize <= 0 || size <= l.MaxFileSize)
	return l, ok
}

// tusUpload is one upload at the tus endpoint, as the client follows it.
type tusUpload struct {
	url    string // its API path: the endpoint's path and its id
	id     string
	offset int64 // what the server holds, as it last said
	fileID string
	status string // Perseus-File-Status, once the server recorded the file
}

// uploadResumable sends the file at path (fi) through the tus endpoint
// at l.Tus. ok is false when the caller should upload the hashed way: the
// server told it to (content of this size may be there) before anything
// was sent.
func (s *FileService) uploadResumable(ctx context.Context, path string, fi os.FileInfo, l Limits, cfg uploadConfig, tr *tracker) (f *File, ok bool, err error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, true, err
	}
	defer file.Close()
	// A mismatch of the whole file's CRC discards the upload: the bytes
	// went wrong somewhere on the way, or the file changed as it was
	// read. It is sent again from the start, once.
	for try := 0; ; try++ {
		st := s.resumeState(path, fi, 0, cfg)
		up, err := s.tusBeginOrResume(ctx, l, st, fi.Size(), cfg.name)
		var ae *APIError
		if errors.As(err, &ae) && ae.Code == "hash_first" {
			return nil, false, nil
		}
		if err != nil {
			return nil, true, err
		}
		f, err = s.tusSend(ctx, file, fi, up, tr)
		switch {
		case errors.As(err, &ae) && ae.Code == "file_checksum_mismatch" && try == 0:
			st.remove()
			continue
		case errors.Is(err, errFileChanged):
			s.client.do(context.WithoutCancel(ctx), tusRequest(http.MethodDelete, up.url, 0, nil), nil)
			st.remove()
			return nil, true, fmt.Errorf("perseus: %s changed while it was being sent; nothing was recorded: upload it again", path)
		case err != nil:
			if errors.As(err, &ae) && (ae.Code == "file_checksum_mismatch" || ae.StatusCode == http.StatusNotFound) {
				st.remove() // the server discarded it: nothing to resume
			}
			return nil, true, err // otherwise the upload stays, for a run again to resume
		}
		st.remove()
		return f, true, nil
	}
}

// tusBeginOrResume resumes the upload st remembers, if the server still
// has it, or creates one for a file of size bytes named name.
func (s *FileService) tusBeginOrResume(ctx context.Context, l Limits, st *resumeState, size int64, name string) (tusUpload, error) {
	if st.Tus != "" {
		up := tusUpload{id: st.Tus, url: strings.TrimSuffix(l.Tus, "/") + "/" + st.Tus}
		err := s.tusHead(ctx, &up)
		if err == nil {
			return up, nil
		}
		var ae *APIError
		if !errors.As(err, &ae) || ae.StatusCode != http.StatusNotFound {
			return up, err // not a reason to start over
		}
		st.remove() // ended, expired, or another server's
	}
	r := tusRequest(http.MethodPost, l.Tus, 0, nil)
	r.header["Upload-Length"] = strconv.FormatInt(size, 10)
	r.header["Upload-Metadata"] = "filename " + base64.StdEncoding.EncodeToString([]byte(name))
	r.header["Perseus-Hash-First"] = "same-size"
	var up tusUpload
	err := s.client.do(ctx, r, func(resp *http.Response) error {
		loc := resp.Header.Get("Location")
		up.id = path.Base(strings.TrimSuffix(loc, "/"))
		if loc == "" || up.id == "" || up.id == "." || up.id == "/" {
			return fmt.Errorf("perseus: the tus endpoint answered %d without the upload's Location", resp.StatusCode)
		}
		up.url = strings.TrimSuffix(l.Tus, "/") + "/" + up.id
		return readTusAnswer(resp, &up)
	})
	if err != nil {
		return up, err
	}
	st.saveTus(up.id)
	return up, nil
}

// tusRequest is a request to the tus endpoint, of body when it has one
// (a section of the file, sent from off).
func tusRequest(method, path string, off int64, body any) request {
	h := map[string]string{"Tus-Resumable": "1.0.0", "Accept": "application/json"}
	if method == http.MethodPatch {
		h["Upload-Offset"] = strconv.FormatInt(off, 10)
		h["Content-Type"] = "application/offset+octet-stream"
	}
	return request{method: method, path: path, body: body, header: h}
}

// tusHead asks the server what it holds of up.
func (s *FileService) tusHead(ctx context.Context, up *tusUpload) error {
	return s.client.do(ctx, tusRequest(http.MethodHead, up.url, 0, nil), func(resp *http.Response) error {
		return readTusAnswer(resp, up)
	})
}

// readTusAnswer reads what an answer of the tus endpoint says of up.
func readTusAnswer(resp *http.Response, up *tusUpload) error {
	if v := resp.Header.Get("Upload-Offset"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("perseus: the tus endpoint answered Upload-Offset %q", v)
		}
		up.offset = n
	}
	if v := resp.Header.Get("Perseus-File-Id"); v != "" {
		up.fileID = v
	}
	if v := resp.Header.Get("Perseus-File-Status"); v != "" {
		up.status = v
	}
	return nil
}

// tusSend sends what the server lacks of up from file (fi): all but the
// last tusTail bytes in one request, then those with the file's CRC. A
// request cut off, or answered with an error a retry may fix, is taken
// up again from the offset the server then holds, under the client's
// retry policy.
func (s *FileService) tusSend(ctx context.Context, file *os.File, fi os.FileInfo, up tusUpload, tr *tracker) (*File, error) {
	size := fi.Size()
	crc, crcDone := make(chan crcResult, 1), make(chan struct{})
	ctx, cancel := context.WithCancel(ctx)
	defer func() { cancel(); <-crcDone }() // the file is closed once this returns
	go func() {
		defer close(crcDone)
		crc <- fileCRC(ctx, file, size)
	}()

	clock := retryClock{p: s.client.retry}
	tr.add(up.offset)
	for up.status == "" && up.offset != size {
		if up.offset > size {
			return nil, fmt.Errorf("perseus: the server holds %d bytes of a %d-byte file", up.offset, size)
		}
		end := max(size-tusTail, up.offset)
		r := tusRequest(http.MethodPatch, up.url, up.offset, section{file, up.offset, end - up.offset, tr})
		if end == up.offset { // the last bytes: the file's CRC goes with them
			c := <-crc
			crc <- c
			if c.err != nil {
				return nil, c.err
			}
			if now, err := file.Stat(); err != nil || !sameVersion(fi, now) {
				return nil, errFileChanged
			}
			sum := binary.BigEndian.AppendUint64(nil, c.crc)
			r = tusRequest(http.MethodPatch, up.url, up.offset, section{file, up.offset, size - up.offset, tr})
			r.header["Perseus-File-Checksum"] = "crc64nvme " + base64.StdEncoding.EncodeToString(sum)
		}
		r.once = true // a retry goes from the offset the server then holds
		was := up.offset
		err := s.client.do(ctx, r, func(resp *http.Response) error { return readTusAnswer(resp, &up) })
		if err == nil {
			if up.offset <= was && up.status == "" {
				return nil, fmt.Errorf("perseus: the tus endpoint took no bytes at offset %d", was)
			}
			continue
		}
		var ae *APIError
		if errors.As(err, &ae) && !retryable(ae.StatusCode, false) && ae.Code != "mismatched_offset" {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, err
		}
		wait, again := clock.next(0)
		if !again || sleep(ctx, wait) != nil {
			return nil, err
		}
		if herr := s.tusHead(ctx, &up); herr != nil {
			return nil, errors.Join(err, herr)
		}
		tr.add(up.offset - was) // what the server kept of the request cut off
	}
	if up.fileID == "" { // all its bytes there: the server recorded the file (HEAD says which)
		return nil, fmt.Errorf("perseus: the tus endpoint ended the upload without the file's id")
	}
	return s.getFile(ctx, up.fileID, 0)
}

// sameVersion reports whether now is the file a was, unchanged.
func sameVersion(a, now os.FileInfo) bool {
	return os.SameFile(a, now) && now.Size() == a.Size() && now.ModTime().Equal(a.ModTime())
}

// crcResult is the CRC-64/NVME of a file, or why it is not known.
type crcResult struct {
	crc uint64
	err error
}

// readCRC continues crc, the CRC-64/NVME of the first off bytes of f,
// over the bytes up to size, reading through ReadAt (f's offset is left
// alone).
func readCRC(ctx context.Context, f *os.File, off, size int64, crc uint64) crcResult {
	buf := make([]byte, 1<<20)
	for off < size {
		if ctx.Err() != nil {
			return crcResult{err: ctx.Err()}
		}
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		crc = crc64nvme.Update(crc, buf[:n])
		off += int64(n)
		if err == io.EOF && off < size {
			return crcResult{err: errFileChanged}
		}
		if err != nil && err != io.EOF {
			return crcResult{err: err}
		}
	}
	return crcResult{crc: crc}
}
