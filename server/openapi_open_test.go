package server

import (
	"net/http"
	"testing"
)

// openAnswers produces the documented answers of open uploads (POST
// /api/v0/file/multipart, and completing one) on the embedded default, and
// returns what its checker saw.
func openAnswers(t *testing.T) map[string]bool {
	e := newEnv(t, func(c *Config) { c.MinPartSize, c.MaxPartSize, c.MaxParts, c.MaxFileSize = 4, 1024, 8, 4096 })
	chk := newSpecChecker(t, e.url)
	s := specCall{chk.client(), e.url}
	const open = "/api/v0/file/multipart"
	plan := map[string]int64{"size": 10, "partSize": 4}

	s.mp(t, "POST", open, "", plan, nil)                                                     // 401
	s.do(t, "POST", open, keyA, "text/plain", []byte("{}"))                                  // 415
	s.do(t, "POST", open, keyA, "application/json", []byte("{"))                             // 400
	s.mp(t, "POST", open, keyA, map[string]int64{"size": 1 << 20, "partSize": 1 << 10}, nil) // 413
	e.meta.down.Store(true)
	s.mp(t, "POST", open, keyA, plan, nil) // 503
	e.meta.down.Store(false)

	// An open upload completed with its name and hash: 200.
	content := []byte("0123456789")
	upload := func() (id, base string) {
		var up struct {
			UploadID string `json:"uploadId"`
			FileID   string `json:"fileId"`
		}
		if st := s.mp(t, "POST", open, keyA, plan, &up); st != http.StatusCreated {
			t.Fatalf("open: %d", st)
		}
		base = "/api/v0/file/" + up.FileID + "/multipart/" + up.UploadID
		for n, b := range [][]byte{content[:4], content[4:8], content[8:]} {
			var urls mpURLs
			if st := s.mp(t, "POST", base+"/parts", keyA, map[string]any{"parts": []map[string]any{{"partNumber": n + 1, "sha256": hashOf(b)}}}, &urls); st != http.StatusOK {
				t.Fatalf("part URLs: %d", st)
			}
			if st := s.putPart(t, urls.Parts[0].URL, urls.Parts[0].Headers, b); st != http.StatusOK {
				t.Fatalf("part %d: %d", n+1, st)
			}
		}
		return up.FileID, base
	}
	// Content a pending file has: 409 content_pending.
	pending := e.create(keyA, "pending.txt", content)
	if pending.status != http.StatusCreated {
		t.Fatalf("create: %d %s", pending.status, pending.body)
	}
	_, first := upload()
	_, second := upload()
	done := map[string]any{"name": "ten.txt", "sha256": hashOf(content)}
	if st := s.mp(t, "POST", first+"/complete", keyA, done, nil); st != http.StatusConflict {
		t.Errorf("complete of content a pending file has: %d, want 409", st)
	}
	// Content an uploaded file has (it was uploaded meanwhile): 200, that file.
	e.put(pending.UploadURL, content)
	var f struct{ ID string }
	if st := s.mp(t, "POST", second+"/complete", keyA, done, &f); st != http.StatusOK || f.ID != pending.Rec.ID {
		t.Errorf("complete of known content: %d %s, want 200 and file %s", st, f.ID, pending.Rec.ID)
	}
	// A file of that size uploaded: 409 hash_first.
	s.mp(t, "POST", open, keyA, plan, nil)
	return chk.seen
}

func TestOpenUploadAnswers(t *testing.T) {
	seen := openAnswers(t)
	for _, k := range []string{"POST /api/v0/file/multipart 201", "POST /api/v0/file/multipart 409", "POST /api/v0/file/{id}/multipart/{upload}/complete 409", "POST /api/v0/file/{id}/multipart/{upload}/complete 200"} {
		if !seen[k] {
			t.Errorf("no %s", k)
		}
	}
}
