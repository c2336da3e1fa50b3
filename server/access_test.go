package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

func TestTenantsAreIsolated(t *testing.T) {
	e := newEnv(t)
	content := []byte("tenant A's secret")
	a := e.upload(keyA, "a.txt", content)
	if g := e.call("GET", "/api/v0/file/"+a.ID, keyB, nil); g.status != http.StatusNotFound {
		t.Errorf("B gets A's file: %d %s", g.status, g.body)
	}
	if fs := e.find(keyB, []string{a.ID}, []string{a.SourceHash}); len(fs) != 0 {
		t.Errorf("B finds A's file: %+v", fs)
	}
	if d := e.call("DELETE", "/api/v0/file/"+a.ID, keyB, nil); d.status != http.StatusNotFound {
		t.Errorf("B deletes A's file: %d %s", d.status, d.body)
	}
	b := e.create(keyB, "b.txt", content)
	if b.status != http.StatusCreated || b.Rec.ID == a.ID || b.Rec.Status != "pending" {
		t.Fatalf("B creates A's content: %d %s", b.status, b.body)
	}
	if fs := e.find(keyA, []string{a.ID}, nil); len(fs) != 1 || fs[0].Status != "uploaded" {
		t.Errorf("A's file after B's attempts: %+v", fs)
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	for name, h := range map[string]string{"missing": "", "wrong scheme": "Basic " + keyA, "unknown key": "Bearer nope", "empty key": "Bearer "} {
		req, _ := http.NewRequest("POST", e.url+"/api/v0/file/find", strings.NewReader(`{}`))
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		if r := e.send(req); r.status != http.StatusUnauthorized {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	const stored = "a-key-kept-in-the-meta-store"
	k := meta.Key{ID: "k1", Tenant: "tenant-c", Hash: HashKey(stored), CreatedAt: time.Now().UTC()}
	if err := e.meta.PutKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	if r := e.create(stored, "c.txt", []byte("c")); r.status != http.StatusCreated {
		t.Fatalf("stored key: %d %s", r.status, r.body)
	}
	if err := e.meta.RevokeKey(context.Background(), k.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if r := e.call("POST", "/api/v0/file/find", stored, map[string]any{}); r.status != http.StatusUnauthorized {
		t.Errorf("revoked key: %d %s", r.status, r.body)
	}
}
