package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/perseus-go/perseus/internal/ingest"
)

// FuzzDecodeCreate: decoding never panics, and POST /api/v0/file never answers
// 5xx to any body: only 2xx for a valid request, 4xx with a message otherwise.
func FuzzDecodeCreate(f *testing.F) {
	e := newEnv(f)
	h := hashOf([]byte("x"))
	for _, seed := range []string{
		`{"name": "a.txt", "sourceHash": "` + h + `"}`,
		`{"name": "A.TXT", "sourceHash": "` + string(bytes.ToUpper([]byte(h))) + `"}`,
		`{"name": "a.txt", "sourceHash": "` + h + `"}}`,
		`{"name": "a.txt", "sourceHash": "` + h + `", "extra": [1, {"x": null}]}`,
		`{"name": "\u0000", "sourceHash": "` + h + `"}`,
		`{"name": "\ud800", "sourceHash": "` + h + `"}`,
		`{"name": "..", "sourceHash": "` + h + `"}`,
		`{"name": "a", "name": 5}`,
		`{"NAME": "a.txt", "SOURCEHASH": "` + h + `"}`,
		`{"name": null, "sourceHash": null}`,
		`[]`, `null`, `""`, `1e999`, `{`, `}`, ``, "\xff\xfe", `{"name": "` + "\xff" + `"}`,
	} {
		f.Add([]byte(seed), "application/json")
	}
	f.Add([]byte(`{}`), "")
	f.Add([]byte(`{}`), "text/plain")
	f.Add([]byte(`{}`), "application/problem+json; charset=utf-8")
	f.Add([]byte(`{}`), ";;")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		req := httptest.NewRequest("POST", "/api/v0/file", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		var cr createRequest
		decode(httptest.NewRecorder(), req, &cr)
		req = httptest.NewRequest("POST", "/api/v0/file/find", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		var fr findRequest
		decode(httptest.NewRecorder(), req, &fr)

		req = httptest.NewRequest("POST", "/api/v0/file", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", "Bearer "+keyA)
		rec := httptest.NewRecorder()
		e.srv.Handler().ServeHTTP(rec, req)
		var res struct {
			File      *File  `json:"file"`
			UploadURL string `json:"uploadUrl"`
			Message   string `json:"message"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
			t.Fatalf("%d with a body that is not JSON: %q", rec.Code, rec.Body)
		}
		switch {
		case rec.Code == http.StatusOK || rec.Code == http.StatusCreated:
			if res.File == nil || res.File.Status != "pending" || res.UploadURL == "" ||
				checkName(&res.File.Name) != nil || !createdAtShape.MatchString(res.File.CreatedAt) {
				t.Fatalf("%d for %q: %s", rec.Code, body, rec.Body)
			}
			if lh, ok := ingest.CheckHash(res.File.SourceHash); !ok || lh != res.File.SourceHash {
				t.Fatalf("accepted sourceHash %q", res.File.SourceHash)
			}
		case rec.Code >= 400 && rec.Code < 500 && rec.Code != http.StatusConflict:
			if res.Message == "" {
				t.Fatalf("%d without a message: %s", rec.Code, rec.Body)
			}
		default: // nothing is ever uploaded here, so not even 409
			t.Fatalf("%d for %q (Content-Type %q): %s", rec.Code, body, contentType, rec.Body)
		}
	})
}
