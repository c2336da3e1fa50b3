package server

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// downloadURLAnswers produces the documented answers of download URLs
// (POST /api/v0/file/{id}/download-url, GET and HEAD /download/{id}) and
// returns what its checker saw.
func downloadURLAnswers(t *testing.T) map[string]bool {
	e := newEnv(t)
	chk := newSpecChecker(t, e.url)
	s := specCall{chk.client(), e.url}
	content := []byte("content downloaded by URL")
	f := e.upload(keyA, "u.txt", content)
	ask := "/api/v0/file/" + f.ID + "/download-url"

	s.do(t, "POST", ask, keyA, "", nil) // 200
	s.do(t, "POST", ask, "", "", nil)   // 401
	s.do(t, "POST", ask, keyB, "", nil) // 404
	pend := e.create(keyA, "p.txt", []byte("pending"))
	s.do(t, "POST", "/api/v0/file/"+pend.Rec.ID+"/download-url", keyA, "", nil) // 409

	d, _ := e.downloadURL(keyA, f.ID)
	u, _ := url.Parse(d.URL)
	dl := u.RequestURI()
	s.do(t, "GET", dl, "", "", nil)                                        // 200
	s.do(t, "HEAD", dl, "", "", nil)                                       // 200
	s.do(t, "GET", dl, "", "", nil, "Range", "bytes=0-3")                  // 206
	s.do(t, "GET", dl, "", "", nil, "Range", "bytes=0-3,5-6")              // 206 multipart
	s.do(t, "GET", dl, "", "", nil, "If-None-Match", `"`+f.SourceHash+`"`) // 304
	s.do(t, "GET", dl, "", "", nil, "If-Match", `"other"`)                 // 412
	s.do(t, "GET", dl, "", "", nil, "Range", "bytes=999-")                 // 416
	s.do(t, "GET", "/download/"+f.ID+"?sig=AAAA", "", "", nil)             // 403
	expired := "/download/" + f.ID + "?" + e.srv.sign.DownloadQuery(tenantA, f.ID, f.SourceHash, time.Now().Add(-time.Hour))
	s.do(t, "GET", expired, "", "", nil) // 410

	e.meta.down.Store(true)
	s.do(t, "POST", ask, keyA, "", nil) // 503
	s.do(t, "GET", dl, "", "", nil)     // 503
	e.meta.down.Store(false)

	for name := range e.storedFiles() {
		os.Remove(filepath.Join(e.blobDir, name))
	}
	s.do(t, "GET", dl, "", "", nil) // 500: content lost

	if del := e.call("DELETE", "/api/v0/file/"+f.ID, keyA, nil); del.status/100 != 2 {
		t.Fatalf("delete: %d %s", del.status, del.body)
	}
	if st := s.do(t, "GET", dl, "", "", nil); st != http.StatusNotFound { // 404
		t.Errorf("a download URL of a deleted file: %d, want 404", st)
	}
	return chk.seen
}
