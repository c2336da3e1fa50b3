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
	"time"

	"github.com/perseus-go/perseus"
	"github.com/perseus-go/perseus/store/blob"
	s3blob "github.com/perseus-go/perseus/store/blob/s3"
)

// rowS3 measures row 2: a new file through `perseus serve --blobs s3://…`
// until WaitForFileUpload says uploaded, against a plain PUT of the file to
// the same S3 server. It also times, alone, reading the object back to hash
// it (what the server adds after the parts of an SDK upload reach S3) and
// copying it (what it adds after a plain PUT to a staging key), to say
// where the difference goes.
func rowS3(ctx context.Context, e *env, t *table) error {
	if e.s3 == "" {
		t.add(row{n: 2, what: "new file, S3 backend", perseus: "skipped: PERSEUS_TEST_S3_URL is not set (scripts/bench starts versitygw)", target: "≤ 1.3×", met: "-"})
		return nil
	}
	prefix := "bench-" + time.Now().UTC().Format("20060102-150405") + "-" + randomHex(3)
	s3url := e.s3 + "&prefix=" + prefix
	store, err := s3blob.Open(ctx, s3url)
	if err != nil {
		return err
	}
	defer func() { // leave nothing behind in the bucket
		store.List(context.WithoutCancel(ctx), "", func(i blob.Info) error {
			return store.Delete(context.WithoutCancel(ctx), i.Key)
		})
	}()
	path := filepath.Join(e.work, "s3.bin")
	if err := writeFile(path, e.big, 2); err != nil {
		return err
	}
	settle()
	defer os.Remove(path)

	// Baseline: one plain PUT to a presigned URL, as a client would send it.
	u, err := store.PresignPut(ctx, "baseline/object", time.Hour)
	if err != nil {
		return err
	}
	putT, err := plainPut(ctx, u, path, e.big)
	if err != nil {
		return err
	}
	// The server's extra steps, each alone.
	start := time.Now()
	sum, err := hashObject(ctx, store, "baseline/object")
	if err != nil {
		return err
	}
	readT := time.Since(start)
	start = time.Now()
	if err := store.Copy(ctx, "baseline/object", "baseline/copy"); err != nil {
		return err
	}
	copyT := time.Since(start)
	store.Delete(ctx, "baseline/object")
	store.Delete(ctx, "baseline/copy")

	db := "sqlite"
	flags := []string{"--blobs", s3url}
	if e.postgres != "" {
		pg, drop, err := pgSchema(ctx, e.postgres)
		if err != nil {
			return err
		}
		defer drop()
		flags = append(flags, "--db", pg)
		db = "PostgreSQL"
	}
	s, err := e.startServer(ctx, filepath.Join(e.work, "s3-data"), flags...)
	if err != nil {
		return err
	}
	defer s.stop()
	c, _, err := client(s.URL, 4)
	if err != nil {
		return err
	}
	start = time.Now()
	f, err := c.File.UploadFile(ctx, path, perseus.WithStream(true))
	if err != nil {
		return err
	}
	putDone := time.Since(start)
	f, err = c.File.WaitForFileUpload(ctx, f.ID)
	total := time.Since(start)
	if err != nil {
		return err
	}
	if f.Status != perseus.StatusUploaded || f.SourceHash != sum {
		return fmt.Errorf("S3 upload ended %s with hash %s, want uploaded %s", f.Status, f.SourceHash, sum)
	}
	// The same the SDK's default way: hashed first, then parts straight to
	// an S3 multipart upload (resumable).
	if err := c.File.DeleteFile(ctx, f.ID); err != nil {
		return err
	}
	start = time.Now()
	g, err := c.File.UploadFile(ctx, path)
	if err == nil {
		g, err = c.File.WaitForFileUpload(ctx, g.ID)
	}
	partsT := time.Since(start)
	if err != nil {
		return err
	}
	if g.Status != perseus.StatusUploaded || g.SourceHash != sum {
		return fmt.Errorf("S3 upload in parts ended %s with hash %s, want uploaded %s", g.Status, g.SourceHash, sum)
	}
	r, rs := ratio(total, putT)
	_, partsRatio := ratio(partsT, putT)
	t.add(row{n: 2, what: "new " + mib(e.big) + " file, S3 backend (versitygw), streamed (WithStream(true)), until WaitForFileUpload says uploaded",
		perseus: ms(total), baseline: ms(putT), ratio: rs, target: "≤ 1.3×", met: e.verdict(r <= 1.3),
		notes: []string{
			fmt.Sprintf("baseline = one plain PUT of the file to a presigned URL of the same S3 server (%s); server on %s metadata", rate(e.big, putT), db),
			fmt.Sprintf("perseus: UploadFile with WithStream(true) (opt-in, not resumable) returned after %s, WaitForFileUpload %s later; the SDK sends the file to "+
				"POST /api/v0/file/stream before hashing it, and the server hashes it on its way to one PutObject at the "+
				"record's key, then checks the object's CRC64NVME (HeadObject) against the bytes it sent",
				ms(putDone), ms(total-putDone)),
			fmt.Sprintf("the same file the SDK's default way, hashed first, then in parts straight to an S3 multipart upload (resumable): %s, %s the "+
				"baseline; completing it has the server read the object back to hash it (a read alone: %s) and versitygw copy "+
				"the parts into one file (a server-side copy alone: %s)", ms(partsT), partsRatio, ms(readT), ms(copyT)),
		},
	})
	return nil
}

func plainPut(ctx context.Context, url, path string, size int64) (time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, struct{ io.Reader }{f})
	if err != nil {
		return 0, err
	}
	req.ContentLength = size
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("plain PUT to S3: %s", resp.Status)
	}
	return time.Since(start), nil
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
