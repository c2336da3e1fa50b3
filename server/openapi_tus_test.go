package server

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"testing"
)

// tusAnswers produces the documented answers of the tus endpoint on the
// embedded default, and returns what its checker saw.
func tusAnswers(t *testing.T) map[string]bool {
	e := newEnv(t, func(c *Config) { c.MaxFileSize, c.QuotaFiles = 1<<20, 3 })
	chk := newSpecChecker(t, e.url)
	s := specCall{chk.client(), e.url}
	const octets = "application/offset+octet-stream"
	v := []string{"Tus-Resumable", "1.0.0"}
	with := func(kv ...string) []string { return append(append([]string{}, v...), kv...) }
	meta := func(name string) string { return "filename " + base64.StdEncoding.EncodeToString([]byte(name)) }

	s.do(t, "OPTIONS", tusBase, "", "", nil)                                                                          // 200
	s.do(t, "POST", tusBase, "", "", nil, with("Upload-Length", "5")...)                                              // 401
	s.do(t, "POST", tusBase, keyA, "", nil, "Upload-Length", "5")                                                     // 412
	s.do(t, "POST", tusBase, keyA, "", nil, with("Upload-Length", "x")...)                                            // 400
	s.do(t, "POST", tusBase, keyA, "", nil, with("Upload-Length", strconv.Itoa(1<<20+1))...)                          // 413
	s.do(t, "POST", tusBase, keyA, octets, []byte("hi"), with("Upload-Length", "2", "Upload-Metadata", meta("a"))...) // 201
	if got := s.do(t, "POST", tusBase, keyA, "", nil, with("Upload-Length", "2", "Perseus-Hash-First", "same-size")...); got != http.StatusConflict {
		t.Errorf("creation asking to hash first, of a size the caller has: %d, want 409", got) // a: 2 bytes
	}

	content := []byte("resumable content")
	loc := "" // the upload's path
	{
		req, _ := http.NewRequest("POST", e.url+tusBase, nil)
		for k, v := range map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": strconv.Itoa(len(content)),
			"Upload-Metadata": meta("r.txt"), "Authorization": "Bearer " + keyA} {
			req.Header.Set(k, v)
		}
		res, err := s.c.Do(req)
		if err != nil || res.StatusCode != http.StatusCreated {
			t.Fatalf("create: %v %v", res, err)
		}
		res.Body.Close()
		loc = res.Header.Get("Location")
	}
	s.do(t, "OPTIONS", loc, "", "", nil)                                                                          // 200
	s.do(t, "HEAD", loc, keyA, "", nil, v...)                                                                     // 200
	s.do(t, "HEAD", loc, "", "", nil, v...)                                                                       // 401
	s.do(t, "HEAD", tusBase+"0190c1d2-0000-7000-8000-000000000000", keyA, "", nil, v...)                          // 404
	s.do(t, "PATCH", loc, "", octets, content, with("Upload-Offset", "0")...)                                     // 401
	s.do(t, "PATCH", loc, keyA, octets, content, "Upload-Offset", "0")                                            // 412
	s.do(t, "PATCH", loc, keyA, "text/plain", content, with("Upload-Offset", "0")...)                             // 400
	s.do(t, "PATCH", loc, keyA, octets, content, with("Upload-Offset", "3")...)                                   // 409
	s.do(t, "PATCH", loc, keyA, octets, append(content, 'x'), with("Upload-Offset", "0")...)                      // 413
	s.do(t, "PATCH", loc, keyA, octets, content, with("Upload-Offset", "0", "Upload-Checksum", "sha256 AAAA")...) // 400
	wrong := sha256.Sum256([]byte("other"))
	s.do(t, "PATCH", loc, keyA, octets, content, with("Upload-Offset", "0", "Upload-Checksum", "sha256 "+base64.StdEncoding.EncodeToString(wrong[:]))...) // 460
	s.do(t, "PATCH", tusBase+"0190c1d2-0000-7000-8000-000000000000", keyA, octets, content, with("Upload-Offset", "0")...)                                // 404
	s.do(t, "PATCH", loc, keyA, octets, content, with("Upload-Offset", "0")...)                                                                           // 204

	// A declared hash the bytes do not have: 422.
	req, _ := http.NewRequest("POST", e.url+tusBase, nil)
	for k, v := range map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "3", "Authorization": "Bearer " + keyA,
		"Upload-Metadata": tusMeta("filename", "b.txt", "sha256", hashOf([]byte("nope")))} {
		req.Header.Set(k, v)
	}
	res, err := s.c.Do(req)
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("create with a hash: %v %v", res, err)
	}
	res.Body.Close()
	s.do(t, "PATCH", res.Header.Get("Location"), keyA, octets, []byte("abc"), with("Upload-Offset", "0")...) // 422

	// An upload of 0 bytes, ended at its creation, with a CRC it does not have: 460.
	s.do(t, "POST", tusBase, keyA, "", nil, with("Upload-Length", "0", "Upload-Metadata", meta("e.txt"), fileChecksumHeader, "crc64nvme AAAAAAAAAAE=")...) // 460

	// Termination.
	s.do(t, "DELETE", loc, "", "", nil, v...)                                              // 401
	s.do(t, "DELETE", tusBase+"0190c1d2-0000-7000-8000-000000000000", keyA, "", nil, v...) // 404
	s.do(t, "DELETE", loc, keyA, "", nil, v...)                                            // 204

	// The files quota (3: two files so far, then one open upload): 507.
	s.do(t, "POST", tusBase, keyA, "", nil, with("Upload-Length", "9", "Upload-Metadata", meta("q1"))...)
	s.do(t, "POST", tusBase, keyA, "", nil, with("Upload-Length", "9", "Upload-Metadata", meta("q2"))...) // 507

	// A store outage: 503.
	e.blobs.down.Store(true)
	s.do(t, "POST", tusBase, keyA, "", nil, with("Upload-Length", "9")...)
	s.do(t, "HEAD", loc, keyA, "", nil, v...)
	s.do(t, "PATCH", loc, keyA, octets, content, with("Upload-Offset", "0")...)
	s.do(t, "DELETE", loc, keyA, "", nil, v...)
	e.blobs.down.Store(false)
	return chk.seen
}

func TestTusAnswers(t *testing.T) {
	seen := tusAnswers(t)
	for _, k := range []string{"POST /api/v0/tus/ 201", "PATCH /api/v0/tus/{id} 204", "PATCH /api/v0/tus/{id} 460", "HEAD /api/v0/tus/{id} 200", "POST /api/v0/tus/ 409"} {
		if !seen[k] {
			t.Errorf("no %s", k)
		}
	}
}
