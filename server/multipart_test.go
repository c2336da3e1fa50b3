package server

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"
)

// mp drives the multipart endpoints of one test server as a client would,
// holding every answer of the server to openapi.json.
type mp struct {
	t    *testing.T
	url  string
	http *http.Client
}

func newMP(t *testing.T, serverURL string) *mp {
	return &mp{t: t, url: serverURL, http: newSpecChecker(t, serverURL).client()}
}

// do sends body as JSON (nil for none) with tenant A's key and decodes a 2xx answer into out.
func (m *mp) do(method, path string, body, out any) (int, string) {
	m.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, m.url+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+keyA)
	return m.send(req, out)
}

func (m *mp) send(req *http.Request, out any) (int, string) {
	m.t.Helper()
	res, err := m.http.Do(req)
	if err != nil {
		m.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 == 2 && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			m.t.Fatalf("%s %s: %d %s: %v", req.Method, req.URL.Path, res.StatusCode, b, err)
		}
	}
	return res.StatusCode, string(b)
}

func (m *mp) start(id string, size, partSize int64) (multipartResponse, int) {
	m.t.Helper()
	var res multipartResponse
	status, body := m.do("POST", "/api/v0/file/"+id+"/multipart", map[string]int64{"size": size, "partSize": partSize}, &res)
	if status/100 != 2 {
		m.t.Fatalf("start multipart: %d %s", status, body)
	}
	return res, status
}

func (m *mp) urls(id, upload string, refs ...partRef) []partURL {
	m.t.Helper()
	var res struct{ Parts []partURL }
	if status, body := m.do("POST", "/api/v0/file/"+id+"/multipart/"+upload+"/parts", partsRequest{refs}, &res); status != 200 {
		m.t.Fatalf("part URLs: %d %s", status, body)
	}
	return res.Parts
}

// put sends body to a part URL with the headers it asks for.
func (m *mp) put(u partURL, body []byte) (int, string) {
	m.t.Helper()
	req, _ := http.NewRequest("PUT", u.URL, bytes.NewReader(body))
	for k, v := range u.Headers {
		req.Header.Set(k, v)
	}
	return m.send(req, nil)
}

func (m *mp) complete(id, upload string, refs []partRef) (File, int, string) {
	m.t.Helper()
	var f File
	status, body := m.do("POST", "/api/v0/file/"+id+"/multipart/"+upload+"/complete", partsRequest{refs}, &f)
	return f, status, body
}

// split cuts content into parts of partSize and returns them with their references.
func split(content []byte, partSize int) ([][]byte, []partRef) {
	var parts [][]byte
	var refs []partRef
	for off := 0; off < len(content); off += partSize {
		p := content[off:min(off+partSize, len(content))]
		parts = append(parts, p)
		refs = append(refs, partRef{PartNumber: len(parts), SHA256: hashOf(p)})
	}
	return parts, refs
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func smallParts(c *Config) { c.MinPartSize = 1 << 10 }

func TestMultipartThroughServerResumesAndCompletesVerified(t *testing.T) {
	e := newEnv(t, smallParts)
	m := newMP(t, e.url)
	content := randomBytes(10<<10 + 123)
	parts, refs := split(content, 4<<10)
	c := e.pendingFile(content)
	up, status := m.start(c.Rec.ID, int64(len(content)), 4<<10)
	if status != http.StatusCreated || up.PartCount != 3 || len(up.Parts) != 0 || up.FileID != c.Rec.ID {
		t.Fatalf("start = %d %+v, want 201, 3 parts, none stored", status, up)
	}
	urls := m.urls(c.Rec.ID, up.UploadID, refs[2], refs[0])
	if len(urls) != 2 || urls[0].Size != int64(len(parts[2])) || urls[1].Size != 4<<10 {
		t.Fatalf("part URLs = %+v", urls)
	}
	for i, n := range []int{2, 0} {
		if status, body := m.put(urls[i], parts[n]); status != http.StatusOK || !strings.Contains(body, refs[n].SHA256) {
			t.Fatalf("PUT part %d: %d %s", n+1, status, body)
		}
	}

	// The client comes back: the same plan resumes, listing what is stored.
	again, status := m.start(c.Rec.ID, int64(len(content)), 4<<10)
	if status != http.StatusOK || again.UploadID != up.UploadID || len(again.Parts) != 2 ||
		again.Parts[0] != (partInfo{PartNumber: 1, Size: 4 << 10, SHA256: refs[0].SHA256, ETag: `"` + refs[0].SHA256 + `"`}) || again.Parts[1].PartNumber != 3 {
		t.Fatalf("start again = %d %+v, want 200 with parts 1 and 3", status, again)
	}
	if _, status, body := m.complete(c.Rec.ID, up.UploadID, refs); status != http.StatusBadRequest || !strings.Contains(body, "parts 2") {
		t.Fatalf("complete without part 2: %d %s, want 400 naming it", status, body)
	}
	if status, body := m.put(m.urls(c.Rec.ID, up.UploadID, refs[1])[0], parts[1]); status != http.StatusOK {
		t.Fatalf("PUT part 2: %d %s", status, body)
	}
	f, status, body := m.complete(c.Rec.ID, up.UploadID, refs)
	if status != http.StatusOK || f.Status != "uploaded" || f.Size != int64(len(content)) {
		t.Fatalf("complete: %d %s", status, body)
	}
	stored := e.storedFiles()
	if len(stored) != 1 || !bytes.Equal(stored["objects/"+contentKey(tenantA, hashOf(content), f.ID)], content) {
		t.Fatalf("after complete the store holds %d files, want only the content", len(stored))
	}
	// Completing again (a lost answer, retried) gives the same verdict.
	if f2, status, _ := m.complete(c.Rec.ID, up.UploadID, refs); status != http.StatusOK || f2.ID != f.ID {
		t.Fatalf("complete again: %d", status)
	}
}

func TestMultipartPartRefusesWhatItsURLWasNotIssuedFor(t *testing.T) {
	e := newEnv(t, smallParts)
	m := newMP(t, e.url)
	content := randomBytes(8 << 10)
	parts, refs := split(content, 4<<10)
	c := e.pendingFile(content)
	up, _ := m.start(c.Rec.ID, int64(len(content)), 4<<10)
	u := m.urls(c.Rec.ID, up.UploadID, refs[0])[0]
	tamper := func(k, v string) partURL {
		p, _ := url.Parse(u.URL)
		q := p.Query()
		q.Set(k, v)
		p.RawQuery = q.Encode()
		return partURL{URL: p.String()}
	}
	for name, tc := range map[string]struct {
		u      partURL
		body   []byte
		status int
	}{
		"the other part's bytes":     {u, parts[1], http.StatusUnprocessableEntity},
		"one byte more":              {u, append(append([]byte{}, parts[0]...), 0), http.StatusRequestEntityTooLarge},
		"one byte less":              {u, parts[0][1:], http.StatusBadRequest},
		"another declared size":      {tamper("size", "4095"), parts[0][1:], http.StatusForbidden},
		"another declared sha256":    {tamper("sha256", refs[1].SHA256), parts[1], http.StatusForbidden},
		"another upload":             {tamper("upload", "4096-4096-0000000000000000"), parts[0], http.StatusForbidden},
		"the whole file's signature": {partURL{URL: strings.Replace(c.UploadURL, "/upload/"+c.Rec.ID, "/upload/"+c.Rec.ID+"/parts/1", 1)}, parts[0], http.StatusForbidden},
	} {
		if status, body := m.put(tc.u, tc.body); status != tc.status {
			t.Errorf("%s: %d %s, want %d", name, status, body, tc.status)
		}
	}
	// Refused parts are not listed, and leave nothing but the upload's
	// in-place assembly (its data file and the parts' lock files),
	// which goes with the upload.
	if again, _ := m.start(c.Rec.ID, int64(len(content)), 4<<10); len(again.Parts) != 0 {
		t.Errorf("after refused parts the upload lists %+v, want none", again.Parts)
	}
	for name := range e.storedFiles() {
		if base := path.Base(name); !strings.HasPrefix(name, "assemblies/parts/") || base != "data" && !strings.HasPrefix(base, "lock-") {
			t.Errorf("refused parts left %s", name)
		}
	}
	if status, _ := m.do("DELETE", "/api/v0/file/"+c.Rec.ID+"/multipart/"+up.UploadID, nil, nil); status != http.StatusNoContent {
		t.Errorf("abort: %d", status)
	}
	e.wantNothingStored()
}

func TestMultipartPartURLExpiresAfterTTL(t *testing.T) {
	e := newEnv(t, smallParts, func(c *Config) { c.UploadURLTTL = time.Millisecond })
	m := newMP(t, e.url)
	content := randomBytes(2 << 10)
	c := e.pendingFile(content)
	up, _ := m.start(c.Rec.ID, int64(len(content)), 4<<10)
	u := m.urls(c.Rec.ID, up.UploadID, partRef{PartNumber: 1, SHA256: hashOf(content)})[0]
	time.Sleep(1100 * time.Millisecond) // expiry has a resolution of one second
	if status, body := m.put(u, content); status != http.StatusForbidden || !strings.Contains(body, "upload_url_expired") {
		t.Errorf("expired part URL: %d %s", status, body)
	}
}

func TestMultipartContentNotMatchingSourceHashFailsAndDropsParts(t *testing.T) {
	e := newEnv(t, smallParts)
	m := newMP(t, e.url)
	declared := randomBytes(6 << 10)
	sent := randomBytes(6 << 10) // parts true to their own hashes, not to the file's
	parts, refs := split(sent, 4<<10)
	c := e.pendingFile(declared)
	up, _ := m.start(c.Rec.ID, int64(len(sent)), 4<<10)
	for i, u := range m.urls(c.Rec.ID, up.UploadID, refs...) {
		if status, body := m.put(u, parts[i]); status != http.StatusOK {
			t.Fatalf("PUT part %d: %d %s", i+1, status, body)
		}
	}
	if _, status, body := m.complete(c.Rec.ID, up.UploadID, refs); status != http.StatusUnprocessableEntity || !strings.Contains(body, "hash_mismatch") {
		t.Fatalf("complete: %d %s, want 422 hash_mismatch", status, body)
	}
	if f := e.status(c.Rec.ID); f.Status != "failed" || f.Reason == "" {
		t.Errorf("file after a mismatch = %+v, want failed with a reason", f)
	}
	e.wantNothingStored()
}

func TestLimitsAreDeclaredAndEnforcedWith413(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.MaxFileSize, c.MinPartSize, c.MaxPartSize, c.MaxParts = 1<<20, 1<<10, 64<<10, 100
		c.UploadURLTTL = 90 * time.Second
	})
	m := newMP(t, e.url)
	var l Limits
	if status, body := m.do("GET", "/api/v0/limits", nil, &l); status != http.StatusOK {
		t.Fatalf("limits: %d %s", status, body)
	}
	want := Limits{MaxFileSize: 1 << 20, MinPartSize: 1 << 10, MaxPartSize: 64 << 10, MaxParts: 100,
		UploadURLTTLSeconds: 90, Multipart: true, PartChecksum: "sha256", ChainedParts: true, StreamMaxSize: 1 << 20, OpenMultipart: true}
	want.BatchCreate = maxBatchCreate
	want.BatchContent, want.BatchContentMaxBytes = 100, 64<<20 // the local store commits files together
	want.Tus, want.TusMaxSize, want.TusExpiresSeconds, want.FileChecksum, want.TusPreferred = tusBase, 1<<20, 86400, "crc64nvme", true
	if l != want {
		t.Errorf("limits = %+v, want %+v", l, want)
	}
	id := e.pendingFile([]byte("limited")).Rec.ID
	for _, tc := range []struct {
		size, partSize int64
		status         int
		says           string
	}{
		{1<<20 + 1, 64 << 10, 413, "maxFileSize"},
		{1 << 20, 64<<10 + 1, 413, "maxPartSize"},
		{1 << 20, 8 << 10, 413, "maxParts"},
		{1 << 20, 1<<10 - 1, 400, "minPartSize"},
		{0, 1 << 10, 400, "positive"},
		{100, 500, 201, ""}, // one part smaller than minPartSize: it is also the last
	} {
		status, body := m.do("POST", "/api/v0/file/"+id+"/multipart", map[string]int64{"size": tc.size, "partSize": tc.partSize}, nil)
		if status != tc.status || !strings.Contains(body, tc.says) {
			t.Errorf("start(size %d, partSize %d) = %d %s, want %d mentioning %q", tc.size, tc.partSize, status, body, tc.status, tc.says)
		}
	}
}

func TestDeleteAndSweepRemoveUnfinishedMultipartUploads(t *testing.T) {
	e := newEnv(t, smallParts)
	m := newMP(t, e.url)
	upload := func(content []byte) (string, string) {
		parts, refs := split(content, 4<<10)
		id := e.pendingFile(content).Rec.ID
		up, _ := m.start(id, int64(len(content)), 4<<10)
		if status, body := m.put(m.urls(id, up.UploadID, refs[0])[0], parts[0]); status != http.StatusOK {
			t.Fatalf("PUT: %d %s", status, body)
		}
		return id, up.UploadID
	}
	deleted, _ := upload(randomBytes(5 << 10))
	if status, body := m.do("DELETE", "/api/v0/file/"+deleted, nil, nil); status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", status, body)
	}
	e.wantNothingStored()

	old, _ := upload(randomBytes(5 << 10))
	cutoff := time.Now().Add(time.Second) // modification times can be coarse
	time.Sleep(1100 * time.Millisecond)
	fresh, freshUpload := upload(randomBytes(5 << 10))
	n, err := e.srv.core.SweepMultipart(t.Context(), cutoff)
	if err != nil || n != 1 {
		t.Fatalf("SweepMultipart = %d, %v; want the 1 stale upload", n, err)
	}
	if status, _ := m.do("GET", "/api/v0/file/"+old+"/multipart", nil, nil); status != http.StatusNotFound {
		t.Errorf("the swept upload is still there: %d", status)
	}
	var got multipartResponse
	if status, body := m.do("GET", "/api/v0/file/"+fresh+"/multipart", nil, &got); status != http.StatusOK || got.UploadID != freshUpload || len(got.Parts) != 1 {
		t.Errorf("the fresh upload: %d %s", status, body)
	}
	if status, _ := m.do("DELETE", "/api/v0/file/"+fresh+"/multipart/"+freshUpload, nil, nil); status != http.StatusNoContent {
		t.Errorf("abort: %d", status)
	}
	e.wantNothingStored()
}

func TestMultipartUploadsAreTheirTenantsOnly(t *testing.T) {
	e := newEnv(t, smallParts)
	m := newMP(t, e.url)
	content := randomBytes(6 << 10)
	parts, refs := split(content, 4<<10)
	id := e.pendingFile(content).Rec.ID
	up, _ := m.start(id, int64(len(content)), 4<<10)
	m.put(m.urls(id, up.UploadID, refs[0])[0], parts[0])
	base := "/api/v0/file/" + id + "/multipart"
	for _, c := range []struct{ method, path string }{
		{"POST", base}, {"GET", base}, {"POST", base + "/" + up.UploadID + "/parts"},
		{"POST", base + "/" + up.UploadID + "/complete"}, {"DELETE", base + "/" + up.UploadID},
	} {
		var body any
		if c.method == "POST" {
			body = map[string]any{"size": len(content), "partSize": 4 << 10, "parts": refs}
		}
		if r := e.call(c.method, c.path, keyB, body); r.status != http.StatusNotFound {
			t.Errorf("%s %s with another tenant's key: %d %s, want 404", c.method, c.path, r.status, r.body)
		}
	}
	if got, status := m.start(id, int64(len(content)), 4<<10); status != http.StatusOK || len(got.Parts) != 1 {
		t.Errorf("the owner's upload after the other tenant's tries: %d %+v", status, got)
	}
}
