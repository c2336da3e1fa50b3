package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

func (f *faultyMeta) List(ctx context.Context, tenant string, q meta.ListQuery) ([]meta.File, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Store.List(ctx, tenant, q)
}

// list pages through GET /api/v0/file with the given query and page size,
// checking every page, and returns the ids seen in order and the number of pages.
func (e *testEnv) list(key string, q url.Values, limit int) ([]string, int) {
	e.t.Helper()
	var ids []string
	q = cloneValues(q)
	q.Set("limit", fmt.Sprint(limit))
	for pages := 1; ; pages++ {
		r := e.call("GET", "/api/v0/file?"+q.Encode(), key, nil)
		if r.status != http.StatusOK || r.Files == nil {
			e.t.Fatalf("list %s: %d %s", q.Encode(), r.status, r.body)
		}
		if len(r.Files) > limit {
			e.t.Fatalf("list with limit %d answered %d files", limit, len(r.Files))
		}
		for _, f := range r.Files {
			checkFile(e.t, f)
			ids = append(ids, f.ID)
		}
		var next struct {
			NextCursor *string `json:"nextCursor"`
		}
		decodeInto(e.t, r.body, &next)
		if next.NextCursor == nil {
			return ids, pages
		}
		if *next.NextCursor == "" || len(r.Files) != limit {
			e.t.Fatalf("a page of %d (limit %d) with nextCursor %q", len(r.Files), limit, *next.NextCursor)
		}
		q.Set("cursor", *next.NextCursor)
	}
}

func decodeInto(t testing.TB, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}

func cloneValues(v url.Values) url.Values {
	c := url.Values{}
	for k, vs := range v {
		c[k] = slices.Clone(vs)
	}
	return c
}

func TestListPagesNewestFirstWithoutGapsOrDuplicates(t *testing.T) {
	e := newEnv(t)
	var want []string // newest first
	for i := range 7 {
		want = slices.Insert(want, 0, e.create(keyA, fmt.Sprintf("f%d.txt", i), fmt.Appendf(nil, "content %d", i)).Rec.ID)
	}
	for _, limit := range []int{1, 2, 3, 7, 100} {
		got, pages := e.list(keyA, nil, limit)
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: %v, want %v", limit, got, want)
		}
		if wantPages := max(1, (len(want)+limit-1)/limit); pages != wantPages {
			t.Errorf("limit %d: %d pages, want %d (no empty last page)", limit, pages, wantPages)
		}
	}
	if got, _ := e.list(keyA, nil, maxListLimit); !slices.Equal(got, want) {
		t.Errorf("limit %d: %v", maxListLimit, got)
	}
	r := e.call("GET", "/api/v0/file", keyA, nil)
	if r.status != http.StatusOK || len(r.Files) != len(want) || r.Files[0].ID != want[0] {
		t.Errorf("list without parameters: %d %s", r.status, r.body)
	}
}

func TestListFiltersAndTenantIsolation(t *testing.T) {
	e := newEnv(t)
	up := e.upload(keyA, "report-1.pdf", []byte("one"))
	pend := e.create(keyA, "report-2.pdf", []byte("two")).Rec
	notes := e.upload(keyA, "notes.md", []byte("three"))
	odd := e.upload(keyA, "50%_done.txt", []byte("four"))
	other := e.upload(keyB, "report-b.pdf", []byte("one"))
	for _, tc := range []struct {
		key  string
		q    url.Values
		want []string
	}{
		{keyA, nil, []string{odd.ID, notes.ID, pend.ID, up.ID}},
		{keyA, url.Values{"status": {"uploaded"}}, []string{odd.ID, notes.ID, up.ID}},
		{keyA, url.Values{"status": {"pending"}}, []string{pend.ID}},
		{keyA, url.Values{"status": {"failed"}}, nil},
		{keyA, url.Values{"namePrefix": {"report-"}}, []string{pend.ID, up.ID}},
		{keyA, url.Values{"namePrefix": {"Report"}}, nil},
		{keyA, url.Values{"namePrefix": {"50%_"}}, []string{odd.ID}},
		{keyA, url.Values{"namePrefix": {"%"}}, nil},
		{keyA, url.Values{"namePrefix": {"report"}, "status": {"uploaded"}}, []string{up.ID}},
		{keyB, nil, []string{other.ID}},
		{keyB, url.Values{"namePrefix": {"report-1"}}, nil},
	} {
		for _, limit := range []int{1, 3} {
			if got, _ := e.list(tc.key, tc.q, limit); !slices.Equal(got, tc.want) {
				t.Errorf("%s %v, limit %d: %v, want %v", tc.key, tc.q, limit, got, tc.want)
			}
		}
	}
	// A cursor from tenant A's listing shows tenant B only B's own files.
	r := e.call("GET", "/api/v0/file?limit=1", keyA, nil)
	var page listResponse
	decodeInto(t, r.body, &page)
	if got, _ := e.list(keyB, url.Values{"cursor": {page.NextCursor}}, 10); len(got) > 1 || len(got) == 1 && got[0] != other.ID {
		t.Errorf("B with A's cursor: %v", got)
	}
}

func TestListRejectsBadParameters(t *testing.T) {
	e := newEnv(t)
	good := encodeCursor(meta.Position{ID: "x"})
	for _, tc := range []struct{ query, code string }{
		{"limit=0", "invalid_limit"},
		{"limit=1001", "invalid_limit"},
		{"limit=-1", "invalid_limit"},
		{"limit=ten", "invalid_limit"},
		{"limit=1.5", "invalid_limit"},
		{"cursor=not-base64!", "invalid_cursor"},
		{"cursor=" + url.QueryEscape(good[:len(good)-3]), "invalid_cursor"},
		{"cursor=e30", "invalid_cursor"}, // {}
		{"status=done", "invalid_status"},
		{"status=UPLOADED", "invalid_status"},
		{"namePrefix=%FF", "invalid_name_prefix"},
	} {
		r := e.call("GET", "/api/v0/file?"+tc.query, keyA, nil)
		if r.status != http.StatusBadRequest || r.Code != tc.code {
			t.Errorf("?%s: %d %s, want 400 %s", tc.query, r.status, r.body, tc.code)
		}
	}
	if r := e.call("GET", "/api/v0/file", "", nil); r.status != http.StatusUnauthorized {
		t.Errorf("list without a key: %d %s", r.status, r.body)
	}
	e.meta.down.Store(true)
	if r := e.call("GET", "/api/v0/file", keyA, nil); r.status != http.StatusServiceUnavailable {
		t.Errorf("list with the store down: %d %s", r.status, r.body)
	}
}

func TestCursorRoundTripsAnyPosition(t *testing.T) {
	for _, id := range []string{"a", "0193c1de-7f4e-7c7a-9e3b-2f1d0c9b8a7f", "with|bars.and:colons", "é"} {
		p := meta.Position{CreatedAt: time.Now().UTC(), ID: id}
		got, ok := decodeCursor(encodeCursor(p))
		if !ok || got.ID != id || !got.CreatedAt.Equal(p.CreatedAt) {
			t.Errorf("cursor of %q decodes to %+v, %v", id, got, ok)
		}
	}
}
