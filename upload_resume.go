package perseus

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// An open upload (upload_open.go) or a tus upload (upload_resumable.go,
// part size 0) has no record until it completes, so the server cannot
// find it by the file's hash: the client remembers it, as tus clients do, in a state file named by a fingerprint of the API key,
// the file's absolute path, size and modification time, and the part size.
// A file changed since is another fingerprint, and starts over. The server's
// address is left out, so that replicas reached by different addresses
// resume each other's uploads; a state another service does not know is
// answered 404, and forgotten.

// resumeState is what is remembered of one open upload, and where.
type resumeState struct {
	FileID   string `json:"fileId"`
	UploadID string `json:"uploadId"`
	PartSize int64  `json:"partSize"`
	Tus      string `json:"tus,omitempty"` // the upload's id at the tus endpoint (upload_resumable.go; PartSize 0)

	path string // the state file; "" when nothing is remembered
}

// defaultResumeDir is where state files go unless WithResumeDir says
// otherwise: perseus/uploads in the user's cache directory, or nowhere
// when there is none.
func defaultResumeDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "perseus", "uploads")
}

// resumeState returns the state of an upload of the file at path (fi) in
// parts of partSize (0: through the tus endpoint): what was remembered, or
// an empty state to fill.
func (s *FileService) resumeState(path string, fi os.FileInfo, partSize int64, cfg uploadConfig) *resumeState {
	dir := cfg.resumeDir
	if dir == "-" {
		dir = defaultResumeDir()
	}
	abs, err := filepath.Abs(path)
	if dir == "" || err != nil {
		return &resumeState{}
	}
	fp := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%d\x00%d\x00%d",
		s.client.apiKey, abs, fi.Size(), fi.ModTime().UnixNano(), partSize))
	st := &resumeState{path: filepath.Join(dir, hex.EncodeToString(fp[:16])+".json")}
	if b, err := os.ReadFile(st.path); err == nil {
		var got resumeState
		if json.Unmarshal(b, &got) == nil && got.PartSize == partSize {
			st.FileID, st.UploadID, st.PartSize, st.Tus = got.FileID, got.UploadID, got.PartSize, got.Tus
		}
	}
	return st
}

// save remembers upload up. A state that cannot be written costs only
// the resume: the upload goes on.
func (st *resumeState) save(up multipartUpload) {
	if st.path == "" {
		return
	}
	st.FileID, st.UploadID, st.PartSize = up.FileID, up.UploadID, up.PartSize
	st.write()
}

// saveTus remembers the upload id has at the tus endpoint.
func (st *resumeState) saveTus(id string) {
	if st.path == "" {
		return
	}
	st.Tus = id
	st.write()
}

// write writes st to its file, replacing it whole.
func (st *resumeState) write() {
	b, _ := json.Marshal(st)
	if os.MkdirAll(filepath.Dir(st.path), 0o700) != nil {
		return
	}
	tmp := st.path + ".tmp"
	if os.WriteFile(tmp, b, 0o600) == nil {
		os.Rename(tmp, st.path)
	}
}

// remove forgets the upload.
func (st *resumeState) remove() {
	if st.path != "" {
		os.Remove(st.path)
	}
	st.FileID, st.UploadID, st.Tus = "", "", ""
}
