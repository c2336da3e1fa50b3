package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
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
		f, err = c.File.UploadFile(ctx, path, perseus.WithStream(true))
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
	// The same the other ways the SDK has: its default, hashed first and
	// in parts (resumable), and in one PUT (a part size above the file's
	// size).
	others := []struct {
		what string
		opts []perseus.UploadOption
		best time.Duration
	}{
		{what: "the default way, hashed first and in parts (resumable)"},
		{what: "in one PUT, hashed first (WithPartSize above its size)", opts: []perseus.UploadOption{perseus.WithPartSize(1 << 62)}},
	}
	var otherNotes []string
	for i := range others {
		o := &others[i]
		for range e.reps {
			if err := c.File.DeleteFile(ctx, f.ID); err != nil {
				return err
			}
			start := time.Now()
			f, err = c.File.UploadFile(ctx, path, o.opts...)
			if err == nil {
				f, err = c.File.WaitForFileUpload(ctx, f.ID)
			}
			d := time.Since(start)
			if err != nil {
				return err
			}
			if f.Status != perseus.StatusUploaded || f.Size != e.big {
				return fmt.Errorf("upload %s ended %s, %d bytes", o.what, f.Status, f.Size)
			}
			keep(&o.best, d)
		}
		_, rs := ratio(o.best, best.base)
		otherNotes = append(otherNotes, fmt.Sprintf("%s %s, %s the baseline", o.what, ms(o.best), rs))
	}
	r, rs := ratio(best.up, best.base)
	t.add(row{n: 1, what: "new " + mib(e.big) + " file, embedded server, end to end, streamed (WithStream(true))",
		perseus: ms(best.up) + " (" + rate(e.big, best.up) + ")", baseline: ms(best.base), ratio: rs,
		target: "≤ 1.3×", met: e.verdict(r <= 1.3),
		notes: []string{fmt.Sprintf("baseline = hash (the faster of sha256sum %s and Go crypto/sha256 %s) + durable copy "+
			"into the data dir's filesystem %s (%s: 1 MiB user-space buffer, fsync, rename, fsync dir); best of %d",
			ms(best.sum), ms(best.goHash), ms(best.copy), rate(e.big, best.copy), e.reps),
			"perseus is UploadFile with WithStream(true) (opt-in, not resumable): the file goes to POST /api/v0/file/stream " +
				"before it is hashed, and the server hashes it as it arrives; the same file " + strings.Join(otherNotes, "; ")},
	})

	// Row 3: the same content again.
	var hashT, againT time.Duration
	var sent, body int64
	cnt.reading.Store(true)
	defer cnt.reading.Store(false)
	for range max(3, e.reps) {
		h, _, err := goHashTime(path)
		if err != nil {
			return err
		}
		keep(&hashT, h)
		cnt.body.Store(0)
		cnt.putBody.Store(0)
		cnt.unsized.Store(0)
		cnt.read.Store(0)
		start := time.Now()
		g, err := c.File.UploadFile(ctx, path, perseus.WithStream(true))
		d := time.Since(start)
		if err != nil {
			return err
		}
		if g.ID != f.ID || g.Status != perseus.StatusUploaded {
			return fmt.Errorf("re-upload returned %s %s, want the existing %s", g.ID, g.Status, f.ID)
		}
		keep(&againT, d)
		sent, body = max(sent, cnt.read.Load()), max(body, cnt.body.Load())
		if cnt.unsized.Load() > 0 {
			return fmt.Errorf("the re-upload sent %d request bodies of unknown length: its bytes cannot be counted", cnt.unsized.Load())
		}
	}
	r, rs = ratio(againT, hashT)
	t.add(row{n: 3, what: "re-upload of existing " + mib(e.big) + " content",
		perseus: fmt.Sprintf("%s, %d content bytes sent", ms(againT), sent), baseline: ms(hashT), ratio: rs,
		target: "≤ 1.1×, 0 bytes", met: e.verdict(r <= 1.1 && sent == 0),
		notes: []string{fmt.Sprintf("baseline = Go crypto/sha256 of the file alone (perseus.HashFile); the re-upload is UploadFile with WithStream(true), "+
			"whose first request is a stream that the server refuses before its body (the caller has a file of that size); content bytes sent = "+
			"bytes the HTTP transport read from request bodies other than JSON (a body it never sends, as after a 409 to "+
			"Expect: 100-continue, reads 0); the re-upload's requests declared %d body bytes in all (Content-Length, the "+
			"streamed attempt's included) and their bodies were read for %d bytes; best of %d",
			body, sent, max(3, e.reps))},
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
