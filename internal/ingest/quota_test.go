package ingest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/perseus-go/perseus/store/meta"
)

func TestFitsRefusesOnlyWhatExceedsTheQuota(t *testing.T) {
	c := &Core{cfg: Config{QuotaFiles: 3, QuotaBytes: 100}}
	for _, tc := range []struct {
		name    string
		u       meta.Usage
		newFile bool
		size    int64
		want    error
	}{
		{"room for both", meta.Usage{Files: 2, Bytes: 50}, true, 50, nil},
		{"exactly the last file and byte", meta.Usage{Files: 2, Bytes: 99}, true, 1, nil},
		{"files at quota", meta.Usage{Files: 3}, true, -1, ErrQuotaExceeded},
		{"files over quota (an overshoot)", meta.Usage{Files: 4}, true, 1, ErrQuotaExceeded},
		{"files at quota, no new file", meta.Usage{Files: 3, Bytes: 10}, false, 10, nil},
		{"size unknown", meta.Usage{Bytes: 100}, false, -1, nil},
		{"no bytes fit a full quota", meta.Usage{Bytes: 100}, false, 0, nil},
		{"bytes at quota", meta.Usage{Bytes: 100}, false, 1, ErrQuotaExceeded},
		{"bytes over quota (an overshoot)", meta.Usage{Bytes: 150}, false, 1, ErrQuotaExceeded},
		{"larger than what remains", meta.Usage{Bytes: 60}, false, 41, ErrOverQuota},
		{"larger than the whole quota", meta.Usage{}, false, 101, ErrOverQuota},
		{"larger than the whole quota, which is full", meta.Usage{Bytes: 100}, false, 101, ErrOverQuota},
	} {
		err := c.fits(tc.u, tc.newFile, tc.size)
		if tc.want == nil && err != nil || tc.want != nil && (!errors.Is(err, tc.want) || Message(err) == "") {
			t.Errorf("%s: fits(%+v, %v, %d) = %v; want %v with a message", tc.name, tc.u, tc.newFile, tc.size, err, tc.want)
		}
	}
	none := &Core{}
	if err := none.fits(meta.Usage{Files: 1 << 40, Bytes: 1 << 60}, true, 1<<50); err != nil {
		t.Errorf("no quota: %v", err)
	}
}

// quotaCore is a core over real stores holding each tenant to files and
// bytes, and the directory of its blob store.
func quotaCore(t *testing.T, files, size int64) (*Core, string) {
	t.Helper()
	return newCoreIn(t, t.TempDir(), func(c *Config) {
		c.QuotaFiles, c.QuotaBytes, c.MinPartSize, c.MaxPartSize = files, size, 1, 1<<20
	})
}

// untouched is a body that fails the test if anything reads it.
type untouched struct{ t *testing.T }

func (u untouched) Read([]byte) (int, error) {
	u.t.Error("a refused body was read")
	return 0, io.EOF
}

// TestQuotasAreCheckedBeforeAnyByteAtEveryWay fills a tenant to its files
// and byte quotas and checks each way bytes arrive: what does not fit is
// refused with the right error before its body is read; what adds nothing
// (content of a pending or uploaded record, no bytes) is taken; another
// tenant is not affected.
func TestQuotasAreCheckedBeforeAnyByteAtEveryWay(t *testing.T) {
	ctx := context.Background()
	c, _ := quotaCore(t, 3, 100)
	put := func(tenant string, content []byte) meta.File {
		t.Helper()
		rec, _, err := c.Create(ctx, tenant, "f", hashOf(content))
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		f, err := c.Receive(ctx, tenant, rec.ID, rec.SourceHash, bytes.NewReader(content), int64(len(content)))
		if err != nil || f.Status != meta.StatusUploaded {
			t.Fatalf("receive: %+v, %v", f, err)
		}
		return f
	}
	is := func(what string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) || want != nil && Message(err) == "" {
			t.Errorf("%s: %v; want %v with a message", what, err, want)
		}
	}

	full := put("t1", randomBytes(60))
	pending, _, err := c.Create(ctx, "t1", "p", hashOf([]byte("forty bytes of pending content, exactly!")))
	is("second file", err, nil)
	_, err = c.Receive(ctx, "t1", pending.ID, pending.SourceHash, untouched{t}, 41)
	is("a body larger than the 40 bytes left", err, ErrOverQuota)
	_, err = c.Receive(ctx, "t1", pending.ID, pending.SourceHash, untouched{t}, -1)
	is("a body of unknown length under a byte quota", err, ErrLengthRequired)
	_, _, err = c.StartMultipart(ctx, "t1", pending.ID, 101, 50)
	is("a multipart plan larger than the whole quota", err, ErrOverQuota)
	_, _, err = c.Stream(ctx, "t1", "s", untouched{t}, 41)
	is("a stream larger than what is left", err, ErrOverQuota)

	failed, _, _ := c.Create(ctx, "t1", "x", hashOf([]byte("will fail")))
	if _, err := c.Receive(ctx, "t1", failed.ID, failed.SourceHash, bytes.NewReader([]byte("other bytes")), 11); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("wrong bytes: %v", err)
	}
	third, _, err := c.Create(ctx, "t1", "q", hashOf([]byte("another")))
	is("third file, the failed one counting for nothing", err, nil)

	// Now three files: full, pending, third.
	_, _, err = c.Create(ctx, "t1", "r", hashOf([]byte("a fourth")))
	is("a fourth file", err, ErrQuotaExceeded)
	_, _, err = c.Create(ctx, "t1", "x", failed.SourceHash)
	is("a failed file made pending again", err, ErrQuotaExceeded)
	_, _, err = c.Stream(ctx, "t1", "s", untouched{t}, 1)
	is("a fourth file streamed", err, ErrQuotaExceeded)
	if rec, created, err := c.Create(ctx, "t1", "p", pending.SourceHash); err != nil || created || rec.ID != pending.ID {
		t.Errorf("create of pending content at the files quota: %+v, %v, %v; want that record", rec, created, err)
	}
	if rec, _, err := c.Create(ctx, "t1", "f", full.SourceHash); err != nil || rec.ID != full.ID {
		t.Errorf("create of uploaded content at the files quota: %+v, %v; want that file", rec, err)
	}

	f, err := c.Receive(ctx, "t1", pending.ID, pending.SourceHash, bytes.NewReader([]byte("forty bytes of pending content, exactly!")), 40)
	if err != nil || f.Status != meta.StatusUploaded {
		t.Fatalf("the last 40 bytes: %+v, %v", f, err)
	}
	_, err = c.Receive(ctx, "t1", third.ID, third.SourceHash, untouched{t}, 7)
	is("a body with the quota full", err, ErrQuotaExceeded)
	_, _, err = c.StartMultipart(ctx, "t1", third.ID, 7, 7)
	is("a multipart plan with the quota full", err, ErrQuotaExceeded)
	empty, _, err := c.Create(ctx, "t2", "e", hashOf(nil))
	is("another tenant's create", err, nil)
	if _, err := c.Delete(ctx, "t1", third.ID); err != nil {
		t.Fatal(err)
	}
	zero, _, err := c.Create(ctx, "t1", "e", hashOf(nil))
	is("a create after a delete made room", err, nil)
	if f, err := c.Receive(ctx, "t1", zero.ID, zero.SourceHash, bytes.NewReader(nil), 0); err != nil || f.Status != meta.StatusUploaded {
		t.Errorf("no bytes with the byte quota full: %+v, %v", f, err)
	}

	if u, err := c.Usage(ctx, "t1"); err != nil || u != (meta.Usage{Files: 3, Bytes: 100}) {
		t.Errorf("usage of t1 = %+v, %v; want 3 files, 100 bytes", u, err)
	}
	put("t2", randomBytes(100))
	if f, err := c.Receive(ctx, "t2", empty.ID, empty.SourceHash, bytes.NewReader(nil), 0); err != nil || f.Status != meta.StatusUploaded {
		t.Errorf("another tenant: %+v, %v", f, err)
	}
}
