package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fleetKey is a signing key of a fleet, with an id.
func fleetKey(id string) func(*Config) {
	return func(c *Config) {
		c.SigningKey = nil
		c.SigningKeys = []SigningKey{{ID: id, Secret: []byte(strings.Repeat(id[:1], 32))}}
	}
}

// replicaOf starts a second server over e's stores, as another replica
// would be, with its own configuration.
func replicaOf(t *testing.T, e *testEnv, tweak ...func(*Config)) string {
	t.Helper()
	cfg := Config{Meta: e.meta, Blobs: e.blobs, SigningKey: testSigningKey,
		StaticKeys: map[string]string{keyA: tenantA, keyB: tenantB}, Logger: e.srv.cfg.Logger}
	for _, f := range tweak {
		f(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}

// TestReplicaWithAnotherSigningKeySaysSo: a replica started with another
// signing key than the one that began an upload answers 403
// signing_key_unknown naming the key, at every step of the upload, rather
// than treating the upload as unknown (a silent start from zero) — and a
// replica with the same key, mid-rotation, goes on with it.
func TestReplicaWithAnotherSigningKeySaysSo(t *testing.T) {
	e := newEnv(t, smallParts, fleetKey("alpha"))
	wrongURL := replicaOf(t, e, smallParts, fleetKey("beta"))
	wrong := newMP(t, wrongURL)
	content := randomBytes(3 << 10)
	parts, refs := split(content, 1<<10)
	c := e.pendingFile(content)
	up, status := newMP(t, e.url).start(c.Rec.ID, int64(len(content)), 1<<10)
	if status != http.StatusCreated || !strings.Contains(up.UploadID, "-alpha_") {
		t.Fatalf("start: %d, uploadId %q, want 201 and an id naming key alpha", status, up.UploadID)
	}
	u := newMP(t, e.url).urls(c.Rec.ID, up.UploadID, refs[0])[0]
	if s, body := newMP(t, e.url).put(u, parts[0]); s != http.StatusOK { // interrupted after one part
		t.Fatalf("part 1: %d %s", s, body)
	}
	u.URL = strings.Replace(u.URL, e.url, wrongURL, 1) // the same URL, through the other replica
	if s, body := wrong.put(u, parts[0]); s != http.StatusForbidden || !strings.Contains(body, "signing_key_unknown") || !strings.Contains(body, `\"alpha\"`) {
		t.Errorf("part PUT on the wrong replica: %d %s, want 403 signing_key_unknown naming alpha", s, body)
	}
	base := "/api/v0/file/" + c.Rec.ID + "/multipart"
	for _, step := range []struct {
		method, path string
		body         any
	}{
		{"POST", base, map[string]int64{"size": int64(len(content)), "partSize": 1 << 10}},
		{"GET", base, nil},
		{"POST", base + "/" + up.UploadID + "/parts", partsRequest{refs[:1]}},
		{"POST", base + "/" + up.UploadID + "/complete", nil},
		{"DELETE", base + "/" + up.UploadID, nil},
	} {
		s, body := wrong.do(step.method, step.path, step.body, nil)
		if s != http.StatusForbidden || !strings.Contains(body, "signing_key_unknown") || !strings.Contains(body, "alpha") {
			t.Errorf("%s %s on the wrong replica: %d %s, want 403 signing_key_unknown naming alpha", step.method, step.path, s, body)
		}
	}
	// A replica that signs with a new key and still accepts alpha resumes it.
	rotated := newMP(t, replicaOf(t, e, smallParts, func(c *Config) {
		c.SigningKey = nil
		c.SigningKeys = []SigningKey{{ID: "gamma", Secret: []byte(strings.Repeat("g", 32))}, {ID: "alpha", Secret: []byte(strings.Repeat("a", 32))}}
	}))
	again, status := rotated.start(c.Rec.ID, int64(len(content)), 1<<10)
	if status != http.StatusOK || again.UploadID != up.UploadID {
		t.Fatalf("start on a rotated replica: %d %s, want 200 and the same upload %s", status, again.UploadID, up.UploadID)
	}
	if len(again.Parts) != 1 || again.Parts[0].PartNumber != 1 {
		t.Fatalf("the rotated replica lists parts %+v, want part 1 stored", again.Parts)
	}
	for i, u := range rotated.urls(c.Rec.ID, up.UploadID, refs[1:]...) {
		if s, body := rotated.put(u, parts[i+1]); s != http.StatusOK {
			t.Fatalf("part %d on the rotated replica: %d %s", i+2, s, body)
		}
	}
	if f, s, body := rotated.complete(c.Rec.ID, up.UploadID, refs); s != http.StatusOK || f.Status != "uploaded" {
		t.Fatalf("complete on the rotated replica: %d %s", s, body)
	}
}

// foreignKeyAnswers produces, through a spec checker, the 403
// signing_key_unknown of each multipart endpoint: an upload begun on a
// replica with key alpha, asked about on one with key beta.
func foreignKeyAnswers(t *testing.T) map[string]bool {
	e := newEnv(t, smallParts, fleetKey("alpha"))
	content := randomBytes(3 << 10)
	parts, refs := split(content, 1<<10)
	c := e.pendingFile(content)
	m := newMP(t, e.url)
	up, _ := m.start(c.Rec.ID, int64(len(content)), 1<<10)
	if s, body := m.put(m.urls(c.Rec.ID, up.UploadID, refs[0])[0], parts[0]); s != http.StatusOK {
		t.Fatalf("part 1: %d %s", s, body)
	}
	wrongURL := replicaOf(t, e, smallParts, fleetKey("beta"))
	chk := newSpecChecker(t, wrongURL)
	s := specCall{chk.client(), wrongURL}
	base := "/api/v0/file/" + c.Rec.ID + "/multipart"
	s.mp(t, "POST", base, keyA, map[string]int64{"size": int64(len(content)), "partSize": 1 << 10}, nil)
	s.mp(t, "GET", base, keyA, nil, nil)
	s.mp(t, "POST", base+"/"+up.UploadID+"/parts", keyA, partsRequest{refs[:1]}, nil)
	s.mp(t, "POST", base+"/"+up.UploadID+"/complete", keyA, nil, nil)
	s.mp(t, "DELETE", base+"/"+up.UploadID, keyA, nil, nil)
	return chk.seen
}
