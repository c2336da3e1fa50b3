package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/perseus-go/perseus"
)

// rowsLocal measures rows 1 and 3 on the embedded server (SQLite, local
// directory): a new file end to end against hashing it plus a durable copy
// on the same disk, then the same content again against hashing alone.
func rowsLocal(ctx context.Context, e *env, t *table) error {
	path := filepath.Join(e.work, "big.bin")
	if err := writeFile(path, e.big, 1); err != nil {
		return err
	}
	settle()
	defer os.Remove(path)
	s, err := e.startServer(ctx, filepath.Join(e.work, "local-data"))
	if err != nil {
		return err
	}
	defer s.stop()
	c, cnt, err := client(s.URL, 4)
	if err != nil {
		return err
	}

	var best struct{ base, sum, goHash, copy, up time.Duration }
	keep := func(p *time.Duration, d time.Duration) {
		if *p == 0 || d < *p {
			*p = d
		}
	}
	var f *perseus.File
	for rep := range e.reps {
		sumT, want, err := sha256sumTime(ctx, path)
		if err != nil {
			return err
		}
		goT, _, err := goHashTime(path)
		if err != nil {
			return err
		}
		copyT, err := durableCopy(path, s.Data)
		if err != nil {
			return err
		}
		keep(&best.sum, sumT)
		keep(&best.goHash, goT)
		keep(&best.copy, copyT)
		keep(&best.base, min(sumT, goT)+copyT)

		last := rep == e.reps-1
		stopProf := func() {}
		if last {
			stopProf = e.profileSelf("row1-client")
		}
		waitProf := func() {}
		if last && best.up > 0 {
			waitProf = e.profileDuring(s, "row1-server", best.up+time.Second)
		}
		start := time.Now()
		f, err = c.File.UploadFile(ctx, path)
		if err == nil {
			f, err = c.File.WaitForFileUpload(ctx, f.ID)
		}
		up := time.Since(start)
		stopProf()
		waitProf()
		if err != nil {
			return err
		}
		if f.Status != perseus.StatusUploaded || f.Size != e.big || f.SourceHash != want {
			return fmt.Errorf("upload ended %s, %d bytes, hash %s", f.Status, f.Size, f.SourceHash)
		}
		keep(&best.up, up)
		if !last {
			if err := c.File.DeleteFile(ctx, f.ID); err != nil {
				return err
			}
		}
	}
	// The same through one PUT: a part size above the file's size keeps the
	// SDK off the multipart path that it takes for large files by default.
	var single time.Duration
	for range e.reps {
		if err := c.File.DeleteFile(ctx, f.ID); err != nil {
			return err
		}
		start := time.Now()
		f, err = c.File.UploadFile(ctx, path, perseus.WithPartSize(1<<62))
		if err == nil {
			f, err = c.File.WaitForFileUpload(ctx, f.ID)
		}
		d := time.Since(start)
		if err != nil {
			return err
		}
		if f.Status != perseus.StatusUploaded || f.Size != e.big {
			return fmt.Errorf("single-PUT upload ended %s, %d bytes", f.Status, f.Size)
		}
		keep(&single, d)
	}
	_, singleRatio := ratio(single, best.base)
	r, rs := ratio(best.up, best.base)
	t.add(row{n: 1, what: "new " + mib(e.big) + " file, embedded server, end to end",
		perseus: ms(best.up) + " (" + rate(e.big, best.up) + ")", baseline: ms(best.base), ratio: rs,
		target: "≤ 1.3×", met: e.verdict(r <= 1.3),
		notes: []string{fmt.Sprintf("baseline = hash (the faster of sha256sum %s and Go crypto/sha256 %s) + durable copy "+
			"into the data dir's filesystem %s (%s: 1 MiB user-space buffer, fsync, rename, fsync dir); best of %d",
			ms(best.sum), ms(best.goHash), ms(best.copy), rate(e.big, best.copy), e.reps),
			fmt.Sprintf("perseus is the SDK's default UploadFile (files above perseus.DefaultPartSize go in parts); "+
				"the same file in one PUT (WithPartSize above its size): %s, %s the baseline", ms(single), singleRatio)},
	})

	// Row 3: the same content again.
	var hashT, againT time.Duration
	var sent, body int64
	for range max(3, e.reps) {
		h, _, err := goHashTime(path)
		if err != nil {
			return err
		}
		keep(&hashT, h)
		cnt.body.Store(0)
		cnt.putBody.Store(0)
		cnt.unsized.Store(0)
		start := time.Now()
		g, err := c.File.UploadFile(ctx, path)
		d := time.Since(start)
		if err != nil {
			return err
		}
		if g.ID != f.ID || g.Status != perseus.StatusUploaded {
			return fmt.Errorf("re-upload returned %s %s, want the existing %s", g.ID, g.Status, f.ID)
		}
		keep(&againT, d)
		sent, body = max(sent, cnt.putBody.Load()), max(body, cnt.body.Load())
		if cnt.unsized.Load() > 0 {
			return fmt.Errorf("the re-upload sent %d request bodies of unknown length: its bytes cannot be counted", cnt.unsized.Load())
		}
	}
	r, rs = ratio(againT, hashT)
	t.add(row{n: 3, what: "re-upload of existing " + mib(e.big) + " content",
		perseus: fmt.Sprintf("%s, %d content bytes sent", ms(againT), sent), baseline: ms(hashT), ratio: rs,
		target: "≤ 1.1×, 0 bytes", met: e.verdict(r <= 1.1 && sent == 0),
		notes: []string{fmt.Sprintf("baseline = Go crypto/sha256 of the file alone (perseus.HashFile); the re-upload sent "+
			"%d request-body bytes in all (JSON of create and find), the Content-Lengths of its requests as an http.RoundTripper saw them; best of %d",
			body, max(3, e.reps))},
	})
	return nil
}

// profileSelf records a CPU profile of this process (the client side) until
// the returned func is called.
func (e *env) profileSelf(name string) (stop func()) {
	if e.profile == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(e.profile, name+".pprof"))
	if err != nil {
		logf("profile %s: %v", name, err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}
