package sdktest

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/perseus-go/perseus"
)

func TestUploadFiles_sendsNothingForContentTheServerHas(t *testing.T) {
	e := newEnv(t, nil)
	known, knownContent := writeRandom(t, "known.bin", 3*int(e.part))
	c := e.client(nil)
	before, err := c.File.UploadFile(t.Context(), known, perseus.WithPartSize(e.part))
	if err != nil {
		t.Fatal(err)
	}
	copyOfKnown := filepath.Join(t.TempDir(), "copy.bin")
	os.WriteFile(copyOfKnown, knownContent, 0o600)
	fresh, freshContent := writeRandom(t, "fresh.bin", 1000)
	missing := filepath.Join(t.TempDir(), "missing.bin")
	creates, puts, parts, finds := e.count("POST /api/v0/file"), e.count("PUT upload"), e.count("PUT part"), e.count("POST /api/v0/file/find")

	res := c.File.UploadFiles(t.Context(), []string{known, fresh, missing, copyOfKnown})
	if len(res) != 4 {
		t.Fatalf("%d results for 4 paths", len(res))
	}
	for i, want := range []string{known, fresh, missing, copyOfKnown} {
		if res[i].Path != want {
			t.Errorf("result %d is for %s, want %s", i, res[i].Path, want)
		}
	}
	if res[0].Err != nil || !res[0].Known || res[0].File.ID != before.ID || res[3].Err != nil || !res[3].Known || res[3].File.ID != before.ID {
		t.Errorf("known content: %+v and %+v, want the existing file %s, known", res[0], res[3], before.ID)
	}
	if res[1].Err != nil || res[1].Known || res[1].File.Status != perseus.StatusUploaded || !bytes.Equal(e.stored(res[1].File), freshContent) {
		t.Errorf("fresh content: %+v", res[1])
	}
	if !errors.Is(res[2].Err, fs.ErrNotExist) || res[2].File != nil {
		t.Errorf("missing path: %+v, want fs.ErrNotExist", res[2])
	}
	if n := e.count("POST /api/v0/file/find") - finds; n != 1 {
		t.Errorf("%d find calls, want one for every hash", n)
	}
	if e.count("POST /api/v0/file")-creates != 1 || e.count("PUT upload")-puts != 1 || e.count("PUT part") != parts {
		t.Errorf("%d creates, %d PUTs, %d part PUTs for the batch; want 1, 1 and 0: only the fresh file",
			e.count("POST /api/v0/file")-creates, e.count("PUT upload")-puts, e.count("PUT part")-parts)
	}
}

func TestUploadFiles_reportsProgressPerFileAndInTotal(t *testing.T) {
	e := newEnv(t, nil)
	big, _ := writeRandom(t, "big.bin", 4*int(e.part)+5)
	small, _ := writeRandom(t, "small.bin", 999)
	dup := filepath.Join(t.TempDir(), "dup.bin")
	b, _ := os.ReadFile(small)
	os.WriteFile(dup, b, 0o600)
	var mu sync.Mutex
	last := map[string]perseus.Progress{}
	var done []string
	var final perseus.Progress
	res := e.client(nil).File.UploadFiles(t.Context(), []string{big, small, dup},
		perseus.WithPartSize(e.part), perseus.WithConcurrency(2), perseus.WithProgress(func(p perseus.Progress) {
			mu.Lock()
			defer mu.Unlock()
			if p.Done {
				done = append(done, p.Path)
			}
			last[p.Path], final = p, p
		}))
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	total := int64(4*int(e.part) + 5 + 999) // the duplicate is sent once
	if len(done) != 2 {
		t.Errorf("Done reported for %v, want the 2 files sent", done)
	}
	for _, p := range []string{big, small} {
		if l := last[p]; !l.Done || l.Err != nil || l.Sent != l.Total || l.BatchTotal != total {
			t.Errorf("last progress of %s = %+v", filepath.Base(p), l)
		}
	}
	if final.BatchSent != total || final.BatchTotal != total {
		t.Errorf("final batch progress %d of %d, want %d of %d", final.BatchSent, final.BatchTotal, total, total)
	}
}
