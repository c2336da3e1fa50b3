package perseus

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeMultipart serves limits, create and the multipart endpoints for one
// file f1 in parts of 16 KiB, and answers each part PUT with answer.
func fakeMultipart(t *testing.T, size int64, answer func(w http.ResponseWriter, body []byte)) (*Client, *atomic.Int32) {
	client, mux, serverURL := setup(t)
	handleCreate(t, mux, uploadURLOf(serverURL))
	mux.HandleFunc("GET /api/v0/limits", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"maxFileSize":1000000,"minPartSize":1024,"maxPartSize":1000000,"maxParts":100,"multipart":true,"partChecksum":"sha256"}`)
	})
	mux.HandleFunc("POST /api/v0/file/f1/multipart", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 201, fmt.Sprintf(`{"uploadId":"u","size":%d,"partSize":16384,"partCount":%d,"parts":[]}`, size, (size+16383)/16384))
	})
	mux.HandleFunc("POST /api/v0/file/f1/multipart/u/parts", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Parts []partRef }
		json.NewDecoder(r.Body).Decode(&req)
		var out []string
		for _, p := range req.Parts {
			out = append(out, fmt.Sprintf(`{"partNumber":%d,"url":"%s/part/%d"}`, p.PartNumber, serverURL+baseURLPath, p.PartNumber))
		}
		writeJSON(w, 200, `{"parts":[`+strings.Join(out, ",")+`]}`)
	})
	var puts atomic.Int32
	mux.HandleFunc("PUT /part/{n}", func(w http.ResponseWriter, r *http.Request) {
		puts.Add(1)
		b, _ := io.ReadAll(r.Body)
		answer(w, b)
	})
	mux.HandleFunc("POST /api/v0/file/f1/multipart/u/complete", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"id":"f1","status":"uploaded"}`)
	})
	return client, &puts
}

func TestUploadFile_partTheStoreDoesNotConfirmIsAnError(t *testing.T) {
	content := make([]byte, 40<<10)
	rand.Read(content)
	for name, tc := range map[string]struct {
		answer func(w http.ResponseWriter, body []byte)
		want   string
	}{
		"another sha256": {func(w http.ResponseWriter, _ []byte) {
			writeJSON(w, 200, `{"sha256":"`+strings.Repeat("0", 64)+`"}`)
		}, "not to"},
		"another x-amz-checksum-sha256": {func(w http.ResponseWriter, _ []byte) {
			w.Header().Set("x-amz-checksum-sha256", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
		}, "not to"},
		"no checksum": {func(w http.ResponseWriter, _ []byte) {
			w.Header().Set("ETag", `"d41d8cd98f00b204e9800998ecf8427e"`)
		}, "without confirming"},
	} {
		t.Run(name, func(t *testing.T) {
			client, puts := fakeMultipart(t, int64(len(content)), tc.answer)
			_, err := client.File.UploadFile(t.Context(), writeTemp(t, "f.bin", content), WithPartSize(16<<10), WithParallelParts(1))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("UploadFile = %v, want an error saying %q", err, tc.want)
			}
			if puts.Load() != 1 {
				t.Errorf("%d part PUTs; the first refused part must stop the upload", puts.Load())
			}
		})
	}
	t.Run("the right sha256", func(t *testing.T) {
		client, puts := fakeMultipart(t, int64(len(content)), func(w http.ResponseWriter, body []byte) {
			writeJSON(w, 200, `{"sha256":"`+sha256Hex(body)+`"}`)
		})
		if _, err := client.File.UploadFile(t.Context(), writeTemp(t, "f.bin", content), WithPartSize(16<<10)); err != nil || puts.Load() != 3 {
			t.Fatalf("UploadFile = %v after %d part PUTs, want success after 3", err, puts.Load())
		}
	})
}

func TestPlanParts(t *testing.T) {
	l := Limits{Multipart: true, MinPartSize: 5 << 20, MaxPartSize: 5 << 30, MaxParts: 10000}
	for _, tc := range []struct {
		name       string
		size, want int64
		l          Limits
		part       int64
		err        bool
	}{
		{"fits in one part", 16 << 20, 16 << 20, l, 0, false},
		{"a part and a byte", 16<<20 + 1, 16 << 20, l, 16 << 20, false},
		{"raised to minPartSize", 64 << 20, 1 << 20, l, 5 << 20, false},
		{"raised to fit maxParts", 1 << 40, 16 << 20, l, (1<<40 + 9999) / 10000, false},
		{"capped at maxPartSize", 100 << 30, 16 << 30, l, 5 << 30, false},
		{"too large for any plan", 60 << 40, 16 << 20, l, 0, true},
		{"no multipart", 1 << 30, 16 << 20, Limits{}, 0, false},
	} {
		part, err := planParts(tc.size, tc.want, tc.l)
		if part != tc.part || (err != nil) != tc.err {
			t.Errorf("%s: planParts(%d, %d) = %d, %v; want %d, error %v", tc.name, tc.size, tc.want, part, err, tc.part, tc.err)
		}
	}
}

// An upload's own chainedParts counts over the limits'; a server that does
// not say leaves the limits' word; either way only at SHA-256 blocks.
func TestMultipartUploadChained(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		said      *bool
		limits    bool
		partSize  int64
		partCount int
		want      bool
	}{
		{nil, true, 1 << 20, 4, true},
		{nil, false, 1 << 20, 4, false},
		{&no, true, 1 << 20, 4, false},
		{&yes, false, 1 << 20, 4, true},
		{&yes, true, 1<<20 + 1, 4, false},
		{&yes, true, 1<<20 + 1, 1, true},
	} {
		up := multipartUpload{ChainedParts: tc.said, PartSize: tc.partSize, PartCount: tc.partCount}
		if got := up.chained(Limits{ChainedParts: tc.limits}, tc.partSize); got != tc.want {
			t.Errorf("said %v, limits %v, part size %d of %d: chained = %v, want %v", tc.said != nil && *tc.said, tc.limits, tc.partSize, tc.partCount, got, tc.want)
		}
	}
}
