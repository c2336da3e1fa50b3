package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/perseus-go/perseus/store/blob"
	s3blob "github.com/perseus-go/perseus/store/blob/s3"
)

// rowS3 measures row 2: a new file through the CLI into a fresh `perseus
// serve --blobs s3://…` (on PostgreSQL metadata when there is one), three
// ways, until --wait sees it uploaded, against a plain PUT of the file to a
// presigned URL of the same S3 server. It also times, once and alone,
// reading an object back to hash it and a server-side copy, the steps the
// server and versitygw add to a multipart upload, to say where time goes.
func rowS3(ctx context.Context, e *env, t *table) error {
	if e.s3 == "" {
		t.add(row{n: 2, what: "new file, S3 backend", perseus: "skipped: PERSEUS_TEST_S3_URL is not set (scripts/bench starts versitygw)", target: "≤ 1.3×", met: "-"})
		return nil
	}
	path := filepath.Join(e.work, "s3.bin")
	if err := writeFile(path, e.big, 2); err != nil {
		return err
	}
	defer os.Remove(path)
	want, err := goSHA256(path)
	if err != nil {
		return err
	}
	base, err := openS3(ctx, e.s3, "bench-baseline-"+randomHex(4))
	if err != nil {
		return err
	}
	defer base.clear()
	put := &variant{name: "plain PUT to S3", run: func(ctx context.Context, _ bool) (time.Duration, error) {
		u, err := base.PresignPut(ctx, "object", time.Hour)
		if err != nil {
			return 0, err
		}
		defer base.clear()
		return timed([]string{path}, func() error { return plainPut(ctx, u, path, e.big) })
	}}
	db := "SQLite"
	if e.postgres != "" {
		db = "PostgreSQL"
	}
	upload := func(serveFlags []string, flags ...string) *variant {
		v := &variant{name: strings.Join(append([]string{"perseus file upload"}, flags...), " ") + " (S3" + strings.Join(append([]string{""}, serveFlags...), " ") + ")"}
		prof := "row2-server" + strings.ReplaceAll(strings.Join(append(flags, serveFlags...), ""), "--", "-")
		v.run = func(ctx context.Context, last bool) (time.Duration, error) {
			store, err := openS3(ctx, e.s3, "bench-"+randomHex(6))
			if err != nil {
				return 0, err
			}
			defer store.clear()
			serve := append([]string{"--blobs", store.url}, serveFlags...)
			if e.postgres != "" {
				pg, drop, err := pgSchema(ctx, e.postgres)
				if err != nil {
					return 0, err
				}
				defer drop()
				serve = append(serve, "--db", pg)
			}
			return e.timeCLI(ctx, cliRun{serve: serve, inputs: []string{path},
				args:    append([]string{"file", "upload", path, "--wait"}, flags...),
				after:   func(s *server) error { return checkUploaded(ctx, s, want) },
				profile: profileIf(last, prof), expect: v.times.lastOr(8*time.Second) + time.Second,
			})
		}
		return v
	}
	def, stream, hashFirst := upload(nil), upload(nil, "--stream"), upload(nil, "--hash-first")
	direct := upload([]string{"--s3-parts", "direct"})
	if err := e.runRounds(ctx, 2, put, def, stream, hashFirst, direct); err != nil {
		return err
	}
	readT, copyT, err := serverSteps(ctx, base, path, e.big)
	if err != nil {
		return err
	}

	for _, u := range []struct {
		v            *variant
		what, target string
		note         string
	}{
		{def, "CLI default", "≤ 1.3×", "the default on S3 (the server says tusPreferred: false there, so the CLI goes in parts): in one pass, an open upload whose parts of 16 MiB, chained, go through the server (--s3-parts relay, its default), which hashes each on its way to an S3 multipart upload at the content key; completing it, versitygw copies the parts into one object, whose CRC64NVME the server compares with the parts' it relayed: the file read once, hashed once by the client and once by the server, no read-back"},
		{direct, "CLI default, server --s3-parts direct", "report", "the default client against `perseus serve --s3-parts direct`: parts of 16 MiB straight to an S3 multipart upload (presigned part URLs, each held by S3 to its own SHA-256) as the CLI hashes them; completing it, versitygw copies the parts into one object and the server reads the object back to hash it (S3 keeps no SHA-256 of a whole multipart object): read once and hashed twice by the client (whole and per part), hashed once more by the server after the upload"},
		{stream, "CLI --stream", "≤ 1.3×", "--stream: the CLI sends the file to POST /api/v0/file/stream before hashing it; the server hashes it on its way " +
			"to one PutObject, then checks the object's CRC64NVME (HeadObject) against what it sent: the file read once, hashed once"},
		{hashFirst, "CLI --hash-first", "report", "--hash-first: the CLI hashes the whole file, then sends it in parts of 16 MiB, chained, " +
			"through the server to an S3 multipart upload, each hashed on its way; completing it, versitygw copies the parts into one " +
			"object: read twice, hashed once by the client first and once by the server"},
	} {
		r, rs := u.v.times.over(put.times)
		met := "-"
		if u.target != "report" {
			met = e.verdict(r <= 1.3)
		}
		t.add(row{n: 2, what: "new " + mib(e.big) + " file, S3 backend (versitygw), " + u.what + ", until --wait says uploaded",
			perseus: u.v.times.String(), baseline: put.times.String(), ratio: rs, target: u.target, met: met,
			notes: []string{u.note}})
	}
	t.note(2,
		fmt.Sprintf("baseline = one plain PUT of the file (sendfile) to a presigned URL of the same S3 server, %s; no hashing by "+
			"the client; versitygw's own work (its writes, its checksums) is the same on both sides", rate(e.big, put.times.median())),
		fmt.Sprintf("perseus = `perseus file upload F --wait` as its own process, against a `perseus serve --blobs s3://…` "+
			"(%s metadata, a fresh prefix and schema) started for that timing and stopped after it; its start is not timed", db),
		fmt.Sprintf("alone, once: reading a %s object back to hash it %s; a server-side copy of it %s", mib(e.big), ms(readT), ms(copyT)),
		e.roundsNote())
	return nil
}

// s3Prefix is a blob store at one prefix of the S3 server.
type s3Prefix struct {
	*s3blob.Store
	url string
}

func openS3(ctx context.Context, s3url, prefix string) (*s3Prefix, error) {
	u := s3url + "&prefix=" + prefix
	st, err := s3blob.Open(ctx, u)
	if err != nil {
		return nil, err
	}
	return &s3Prefix{Store: st, url: u}, nil
}

// clear deletes every object under the prefix.
func (p *s3Prefix) clear() {
	ctx := context.Background()
	p.List(ctx, "", func(i blob.Info) error { return p.Delete(ctx, i.Key) })
}

// serverSteps times, once each, reading an object of the file back to
// hash it and copying it within S3.
func serverSteps(ctx context.Context, store *s3Prefix, path string, size int64) (read, cp time.Duration, err error) {
	defer store.clear()
	u, err := store.PresignPut(ctx, "object", time.Hour)
	if err != nil {
		return 0, 0, err
	}
	if err := plainPut(ctx, u, path, size); err != nil {
		return 0, 0, err
	}
	start := time.Now()
	if _, err := hashObject(ctx, store, "object"); err != nil {
		return 0, 0, err
	}
	read = time.Since(start)
	start = time.Now()
	err = store.Copy(ctx, "object", "copy")
	return read, time.Since(start), err
}

// plainPut sends the file in one PUT to url, the file itself as the body
// so that the kernel can sendfile it.
func plainPut(ctx context.Context, url, path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, f)
	if err != nil {
		return err
	}
	req.ContentLength = size
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("plain PUT to S3: %s", resp.Status)
	}
	return nil
}

func hashObject(ctx context.Context, store blob.Store, key string) (string, error) {
	r, err := store.Open(ctx, key, 0)
	if err != nil {
		return "", err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, r, make([]byte, 1<<20)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
