package metatest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/perseus-go/perseus/store/meta"
)

// listFixture claims n records for tenant named name-<i>, created at base
// plus i/3 milliseconds: every three share a CreatedAt, so the order must
// break ties by ID. It returns them newest first, the order List must give.
func listFixture(t *testing.T, s meta.Store, tenant, name string, n int, base time.Time) []meta.File {
	t.Helper()
	var recs []meta.File
	for i := range n {
		f := newFile(tenant, fmt.Sprintf("%s-%s-%d", tenant, name, i))
		f.Name = fmt.Sprintf("%s-%d", name, i)
		f.CreatedAt = base.Add(time.Duration(i/3) * time.Millisecond)
		recs = append(recs, mustClaim(t, s, f))
	}
	slices.SortFunc(recs, func(a, b meta.File) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return recs
}

// listAll pages through List with page size limit and returns what it saw.
func listAll(t *testing.T, s meta.Store, tenant string, q meta.ListQuery) []meta.File {
	t.Helper()
	var all []meta.File
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("List never ran out of pages")
		}
		page, err := s.List(context.Background(), tenant, q)
		if err != nil {
			t.Fatalf("List(%+v): %v", q, err)
		}
		if len(page) > q.Limit {
			t.Fatalf("List returned %d records, limit %d", len(page), q.Limit)
		}
		all = append(all, page...)
		if len(page) < q.Limit {
			return all
		}
		p := meta.PositionOf(page[len(page)-1])
		q.After = &p
	}
}

func ids(fs []meta.File) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.ID
	}
	return out
}

func testListNewestFirst(t *testing.T, s meta.Store) {
	base := time.Now().UTC().Truncate(time.Millisecond)
	want := listFixture(t, s, "t1", "doc", 10, base)
	got, err := s.List(context.Background(), "t1", meta.ListQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("List order = %v, want newest first, ties by id descending: %v", ids(got), ids(want))
	}
	for i, f := range got {
		if f.Tenant != "t1" || f.Name != want[i].Name || f.SourceHash != want[i].SourceHash ||
			f.Status != meta.StatusPending || !f.CreatedAt.Equal(want[i].CreatedAt) {
			t.Fatalf("List[%d] = %+v, want %+v", i, f, want[i])
		}
	}
	first, err := s.List(context.Background(), "t1", meta.ListQuery{Limit: 3})
	if err != nil || !slices.Equal(ids(first), ids(want[:3])) {
		t.Fatalf("List(limit 3) = %v, %v; want %v", ids(first), err, ids(want[:3]))
	}
}

func testListPages(t *testing.T, s meta.Store) {
	ctx := context.Background()
	want := listFixture(t, s, "t1", "doc", 25, time.Now().UTC().Truncate(time.Millisecond))
	for _, limit := range []int{1, 2, 3, 4, 7, 25, 26} {
		if got := listAll(t, s, "t1", meta.ListQuery{Limit: limit}); !slices.Equal(ids(got), ids(want)) {
			t.Fatalf("pages of %d = %v, want every record once, in order: %v", limit, ids(got), ids(want))
		}
	}
	// Records deleted or added while paging leave the rest of the walk intact:
	// the position is a place in the order, not an offset.
	page, err := s.List(ctx, "t1", meta.ListQuery{Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, "t1", page[4].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, "t1", want[10].ID); err != nil {
		t.Fatal(err)
	}
	newer := newFile("t1", "newer")
	newer.CreatedAt = want[0].CreatedAt.Add(time.Hour)
	mustClaim(t, s, newer)
	after := meta.PositionOf(page[4])
	rest := listAll(t, s, "t1", meta.ListQuery{Limit: 4, After: &after})
	wantRest := slices.Concat(want[5:10], want[11:])
	if !slices.Equal(ids(rest), ids(wantRest)) {
		t.Fatalf("after deletes, the walk from a deleted record's position = %v, want %v", ids(rest), ids(wantRest))
	}
}

func testListFilters(t *testing.T, s meta.Store) {
	ctx := context.Background()
	base := time.Now().UTC().Truncate(time.Millisecond)
	reports := listFixture(t, s, "t1", "report", 6, base)
	odd := listFixture(t, s, "t1", "Report_%", 3, base.Add(time.Second))
	listFixture(t, s, "t1", "notes", 4, base.Add(2*time.Second))
	var uploaded []meta.File // the four newest reports; the two oldest stay pending
	for _, f := range reports[:4] {
		u, err := s.Transition(ctx, f.ID, meta.Update{From: meta.StatusPending, To: meta.StatusUploaded, Size: 1})
		if err != nil {
			t.Fatal(err)
		}
		uploaded = append(uploaded, u)
	}
	if _, err := s.Transition(ctx, odd[0].ID, meta.Update{From: meta.StatusPending, To: meta.StatusFailed, Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		q    meta.ListQuery
		want []meta.File
	}{
		{"status", meta.ListQuery{Status: meta.StatusUploaded}, uploaded},
		{"status failed", meta.ListQuery{Status: meta.StatusFailed}, odd[:1]},
		{"prefix is case-sensitive", meta.ListQuery{NamePrefix: "report-"}, reports},
		{"prefix wildcards are literal", meta.ListQuery{NamePrefix: "Report_%"}, odd},
		{"prefix % matches only %", meta.ListQuery{NamePrefix: "%"}, nil},
		{"prefix _ matches only _", meta.ListQuery{NamePrefix: "_eport"}, nil},
		{"whole name", meta.ListQuery{NamePrefix: "report-5"}, []meta.File{find(reports, "report-5")}},
		{"status and prefix", meta.ListQuery{Status: meta.StatusPending, NamePrefix: "report"}, reports[4:]},
	}
	for _, tc := range cases {
		for _, limit := range []int{1, 2, 100} {
			tc.q.Limit = limit
			if got := listAll(t, s, "t1", tc.q); !slices.Equal(ids(got), ids(tc.want)) {
				t.Errorf("%s, pages of %d: %v, want %v", tc.name, limit, ids(got), ids(tc.want))
			}
		}
	}
}

func find(fs []meta.File, name string) meta.File {
	for _, f := range fs {
		if f.Name == name {
			return f
		}
	}
	panic("no " + name)
}

func testListPerTenant(t *testing.T, s meta.Store) {
	base := time.Now().UTC().Truncate(time.Millisecond)
	a := listFixture(t, s, "t1", "doc", 5, base.Add(time.Second))
	b := listFixture(t, s, "t2", "doc", 4, base)
	if got := listAll(t, s, "t1", meta.ListQuery{Limit: 2}); !slices.Equal(ids(got), ids(a)) {
		t.Errorf("t1 lists %v, want only its own %v", ids(got), ids(a))
	}
	if got := listAll(t, s, "t2", meta.ListQuery{Limit: 3, NamePrefix: "doc"}); !slices.Equal(ids(got), ids(b)) {
		t.Errorf("t2 lists %v, want only its own %v", ids(got), ids(b))
	}
	// A position is only a place in the order: one taken from another
	// tenant's newer record lists all of t2's own, and nothing of t1's.
	p := meta.PositionOf(a[0])
	if got := listAll(t, s, "t2", meta.ListQuery{Limit: 10, After: &p}); !slices.Equal(ids(got), ids(b)) {
		t.Errorf("t2 after t1's newest = %v, want %v", ids(got), ids(b))
	}
	none, err := s.List(context.Background(), "t3", meta.ListQuery{Limit: 10})
	if err != nil || len(none) != 0 {
		t.Errorf("List of a tenant with no files = %v, %v; want empty", none, err)
	}
}
