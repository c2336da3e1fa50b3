package perseus

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
)

// A new file larger than a part goes, by default, in order through the
// server's tus endpoint (Limits.Tus), where the server checks a whole-file
// CRC-64/NVME (Limits.FileChecksum) and prefers it (Limits.TusPreferred:
// its store takes the bytes in place; on S3 parts go instead): its bytes
// leave before the file is hashed, and the server hashes them as they
// arrive, so the file's SHA-256 is computed once, by the server, where
// hashing on both sides computes it twice (on two cores, two hashes left
// the default at 1.6× the machine's physical work). The client computes
// the file's CRC-64/NVME beside the sending (crc.go), about a fifth of a
// SHA-256's cost on data out of the CPU's caches and less than half the
// standard library's CRC-32C's, and declares it with the last bytes
// (Perseus-File-Checksum), which the server checks before it records the
// file: the bytes are checked end to end still.

// tusTail is what the last request of a resumable upload sends at most:
// the request that carries the whole file's CRC, which the client knows
// only once it has read the file. Everything before it goes in one
// request before.
const tusTail = 1 << 20

// tusChunk bounds the bytes of one request before the last: proxies that
// cap or buffer request bodies see requests of this size at most, and a
// request lost whole loses no more; each costs the server one commit (an
// fsync of the file and of the upload's state).
const tusChunk = 256 << 20

// resumable reports whether a file of size bytes goes through the tus
// endpoint: larger than a part, the caller asked neither to hash first
// nor for parts, and the server checks whole-file checksums there and
// takes a file so at least as cheaply as in parts (on S3, whose store
// copies the bytes of a tus upload twice at its end, it does not).
func (s *FileService) resumable(ctx context.Context, size int64, cfg uploadConfig) (Limits, bool) {
	if cfg.hashFirst || cfg.parts || size <= cfg.partSize || s.noTus.Load() {
		return Limits{}, false
	}
	l, err := s.Limits(ctx) // an error shows again, on the usual way
	ok := err == nil && l.Tus != "" && l.TusPreferred && l.FileChecksum == "crc64nvme" &&
		(l.TusMaxSize <= 0 || size <= l.TusMaxSize) && (l.MaxFileSize <= 0 || size <= l.MaxFileSize)
	return l, ok
}

// tusUpload is one upload at the tus endpoint, as the client follows it.
type tusUpload struct {
	url     string // its API path: the endpoint's path and its id
	id      string
	offset  int64 // what the server holds, as it last said
	fileID  string
	status  string // Perseus-File-Status, once the server recorded the file
	checked string // Perseus-File-Checksum, as the server echoes it once the upload's bytes matched it
}

// errNotTus sends a file the tus way would not take on to parts: a proxy
// in front of the server refuses the endpoint, or the size of a request.
var errNotTus = errors.New("perseus: the tus endpoint is not reachable")

// proxyRefused reports whether ae, the answer to a tus request once the
// upload was created, is a proxy's refusal rather than the server's (whose
// every tus error has a code): a method it does not pass (PATCH, HEAD), a
// path it does not route, or a cap on a request's body.
func proxyRefused(ae *APIError) bool {
	switch ae.StatusCode {
	case http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed,
		http.StatusRequestEntityTooLarge, http.StatusNotImplemented:
		return ae.Code == ""
	}
	return false
}

// uploadResumable sends the file at path (fi) through the tus endpoint
// at l.Tus. ok is false when the caller should upload another way: with
// a nil error, the hashed way (the server said content of this size may be
// there), with errNotTus, in parts; nothing of the file is kept then.
func (s *FileService) uploadResumable(ctx context.Context, path string, fi os.FileInfo, l Limits, cfg uploadConfig, tr *tracker) (f *File, ok bool, err error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, true, err
	}
	defer file.Close()
	// A mismatch of the whole file's CRC discards the upload: the bytes
	// went wrong somewhere on the way, or the file changed as it was
	// read. It is sent again from the start, once; so is an upload whose
	// server kept no CRC to check (begun by an older one).
	for try := 0; ; try++ {
		st := s.resumeState(path, fi, 0, cfg)
		up, err := s.tusBeginOrResume(ctx, l, st, fi.Size(), cfg.name)
		var ae *APIError
		switch {
		case errors.As(err, &ae) && ae.Code == "hash_first":
			return nil, false, nil
		case errors.As(err, &ae) && (ae.StatusCode == http.StatusNotFound || ae.StatusCode == http.StatusMethodNotAllowed || ae.StatusCode == http.StatusNotImplemented):
			s.noTus.Store(true)
			return nil, false, errNotTus
		case err != nil:
			return nil, true, err
		}
		f, err = s.tusSend(ctx, file, fi, up, tr)
		end := func() { // the upload goes, and what remembers it
			s.client.do(context.WithoutCancel(ctx), tusRequest(http.MethodDelete, up.url, 0, nil), nil)
			st.remove()
		}
		switch {
		case err == nil:
			st.remove()
			return f, true, nil
		case errors.As(err, &ae) && ae.Code == "file_checksum_mismatch" && try == 0:
			st.remove() // the server discarded it
			continue
		case errors.As(err, &ae) && ae.Code == "file_checksum_unavailable" && try == 0:
			end()
			continue
		case errors.As(err, &ae) && proxyRefused(ae):
			end()
			tr.add(-tr.count())
			s.noTus.Store(true)
			return nil, false, errNotTus
		case errors.Is(err, ErrFileChanged):
			end()
			return nil, true, fmt.Errorf("%w: %s; nothing was recorded: upload it again", ErrFileChanged, path)
		case errors.Is(err, errNotThisFile) && try == 0:
			st.remove() // a finished upload of the file as it was: this one goes anew
			continue
		case errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound && try == 0:
			st.remove() // the upload, or the file it made, is gone: once more from the start
			continue
		case errors.As(err, &ae) && (ae.Code == "file_checksum_mismatch" || ae.StatusCode == http.StatusNotFound):
			st.remove() // the server discarded it: nothing to resume
		}
		return nil, true, err // otherwise the upload stays, for a run again to resume
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
	if v := resp.Header.Get("Perseus-File-Checksum"); v != "" {
		up.checked = v
	}
	return nil
}

// tusSend sends what the server lacks of up from file (fi): up to tusChunk
// bytes per request but the last tusTail, then those with the file's CRC.
// A request cut off, or answered with an error a retry may fix, is taken
// up again from the offset the server then holds, under the client's
// retry policy, whose budget starts again whenever bytes get through. A
// file that changed meanwhile is ErrFileChanged.
func (s *FileService) tusSend(ctx context.Context, file *os.File, fi os.FileInfo, up tusUpload, tr *tracker) (*File, error) {
	size := fi.Size()
	crc, crcDone := make(chan crcResult, 1), make(chan struct{})
	ctx, cancel := context.WithCancel(ctx)
	defer func() { cancel(); <-crcDone }() // the file is closed once this returns
	go func() {
		defer close(crcDone)
		crc <- fileCRC(ctx, file, size)
	}()
	changed := func() bool {
		select {
		case c := <-crc:
			crc <- c
			if errors.Is(c.err, ErrFileChanged) {
				return true
			}
		default:
		}
		now, err := file.Stat()
		return err != nil || !sameVersion(fi, now)
	}

	clock := retryClock{p: s.client.retry}
	tr.add(up.offset - tr.count()) // what the server holds; nothing of an attempt it discarded
	var declared string
	for up.status == "" && up.offset != size {
		if up.offset > size {
			return nil, fmt.Errorf("perseus: the server holds %d bytes of a %d-byte file", up.offset, size)
		}
		end := min(up.offset+tusChunk, max(size-tusTail, up.offset))
		r := tusRequest(http.MethodPatch, up.url, up.offset, section{file, up.offset, end - up.offset, tr})
		if end == up.offset { // the last bytes: the file's CRC goes with them
			c := <-crc
			crc <- c
			if c.err != nil {
				return nil, c.err
			}
			if changed() {
				return nil, ErrFileChanged
			}
			declared = "crc64nvme " + base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint64(nil, c.crc))
			r = tusRequest(http.MethodPatch, up.url, up.offset, section{file, up.offset, size - up.offset, tr})
			r.header["Perseus-File-Checksum"] = declared
		}
		r.once = true // a retry goes from the offset the server then holds
		was := up.offset
		err := s.client.do(ctx, r, func(resp *http.Response) error { return readTusAnswer(resp, &up) })
		if err == nil {
			if up.offset <= was && up.status == "" {
				return nil, fmt.Errorf("perseus: the tus endpoint took no bytes at offset %d", was)
			}
			clock = retryClock{p: s.client.retry}
			continue
		}
		clock.attempt++
		if ctx.Err() != nil {
			return nil, err
		}
		if changed() { // a file cut short fails its request: not the network's fault
			return nil, ErrFileChanged
		}
		if isLocal(err) { // the file could not be read: a retry would meet it again
			return nil, err
		}
		var ae *APIError
		var after time.Duration
		if errors.As(err, &ae) {
			if !retryable(ae.StatusCode, false) && ae.Code != "mismatched_offset" && ae.Code != "lock_timeout" {
				return nil, err
			}
			after = ae.RetryAfter
		}
		wait, again := clock.next(after)
		if !again || sleep(ctx, wait) != nil {
			return nil, err
		}
		if herr := s.tusHead(ctx, &up); herr != nil {
			return nil, errors.Join(err, herr)
		}
		if up.offset > was {
			clock = retryClock{p: s.client.retry} // the server kept some of it: progress
		}
		tr.add(up.offset - was) // what the server kept of the request cut off
	}
	if up.fileID == "" {
		return nil, fmt.Errorf("perseus: the tus endpoint ended the upload without the file's id")
	}
	f, err := s.getFile(ctx, up.fileID, 0)
	if err != nil || (declared != "" && up.checked == declared) {
		return f, err
	}
	// Nothing says the server checked the CRC: the answer that ended the
	// upload was lost (a HEAD finished it), or a replica too old to know
	// the header took it. The file's own hash tells.
	return s.checkHashed(ctx, file, f, up.id, declared != "")
}

// errNotThisFile: an upload a run resumed had been finished, by a run
// before, with other bytes than the file now has (replaced since, its
// size and time kept).
var errNotThisFile = errors.New("perseus: the upload resumed was of the file as it was")

// checkHashed compares f, the file an upload made of file, with file's
// SHA-256. When this run sent the upload's last bytes (sent), a file of
// its own (id) that differs is deleted: its bytes changed on the way.
// When a run before did, the file is the upload of the file as it was
// then, and stays: errNotThisFile.
func (s *FileService) checkHashed(ctx context.Context, file *os.File, f *File, id string, sent bool) (*File, error) {
	h := sha256.New()
	if _, err := readAhead(ctx, io.NewSectionReader(file, 0, 1<<62), func(b []byte) { h.Write(b) }); err != nil {
		return nil, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if sum != f.SourceHash && !sent {
		return nil, errNotThisFile
	}
	if sum != f.SourceHash {
		what := "nothing was kept"
		if f.ID == id {
			if err := s.DeleteFile(context.WithoutCancel(ctx), f.ID); err != nil {
				what = "deleting it failed (" + err.Error() + "): delete file " + f.ID + " yourself"
			}
		}
		return nil, fmt.Errorf("perseus: the server recorded SHA-256 %s, but the file hashes to %s (its bytes changed on the way, unchecked); %s; upload it again: %w", f.SourceHash, sum, what, ErrUploadFailed)
	}
	return f, nil
}

// sameVersion reports whether now is the file a was, unchanged.
func sameVersion(a, now os.FileInfo) bool {
	return os.SameFile(a, now) && now.Size() == a.Size() && now.ModTime().Equal(a.ModTime())
}
