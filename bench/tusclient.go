package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// tusEndpoint is where `perseus serve` serves tus 1.0.
const tusEndpoint = "/api/v0/tus/"

// tusClientMode is the first argument that makes the bench binary a tus
// client (runTusClient) instead of the bench: the bench runs itself so,
// so that the tus rows have their client in a process of its own, as
// users run one, without a client that needs npm or another build.
const tusClientMode = "tus-client"

// tusClient is how the bench runs its tus client, as a process.
type tusClient struct {
	endpoint string // the tus endpoint, to create the upload (POST)
	resume   string // the upload's URL: HEAD it and send the rest; no POST
	file     string
	key      string // API key, sent as Authorization: Bearer; "" for tusd
	chunk    int64  // bytes per PATCH; 0: the rest in one PATCH
	checksum bool   // Upload-Checksum: sha256 of each PATCH's body
	status   string // Perseus-File-Status the last PATCH must answer; "" for tusd
}

// command is the client's process, ready to start: it prints the
// upload's URL on its first line, as soon as it knows it.
func (c tusClient) command(ctx context.Context) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{tusClientMode, "-file", c.file, "-chunk", strconv.FormatInt(c.chunk, 10)}
	if c.resume != "" {
		args = append(args, "-resume", c.resume)
	} else {
		args = append(args, "-endpoint", c.endpoint)
	}
	if c.key != "" {
		args = append(args, "-key", c.key)
	}
	if c.checksum {
		args = append(args, "-checksum")
	}
	if c.status != "" {
		args = append(args, "-status", c.status)
	}
	return exec.CommandContext(ctx, self, args...), nil
}

// run runs the client to its end and returns the upload's URL.
func (c tusClient) run(ctx context.Context) (string, error) {
	cmd, err := c.command(ctx)
	if err != nil {
		return "", err
	}
	out, errs := &lockedBuffer{}, &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, errs
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("tus client %v: %w\n%s", cmd.Args[1:], err, errs.String())
	}
	loc, _, _ := strings.Cut(out.String(), "\n")
	return strings.TrimPrefix(loc, "location "), nil
}

// runTusClient is the client's process (bench tus-client FLAGS): a
// minimal tus 1.0 client. It creates an upload at -endpoint (POST with
// Upload-Length and Upload-Metadata filename), or takes the one at
// -resume and asks its offset (HEAD); then it sends the file from that
// offset in PATCHes of -chunk bytes (0: one PATCH for the rest), each
// body the file itself, so that the kernel sends it (sendfile), with
// Upload-Checksum (sha256 of the chunk) when -checksum is set.
func runTusClient(args []string) error {
	fs := flag.NewFlagSet(tusClientMode, flag.ContinueOnError)
	c := tusClient{}
	fs.StringVar(&c.endpoint, "endpoint", "", "tus endpoint to create the upload at")
	fs.StringVar(&c.resume, "resume", "", "upload URL to resume (HEAD, then PATCH the rest)")
	fs.StringVar(&c.file, "file", "", "the file to send")
	fs.StringVar(&c.key, "key", "", "API key (Authorization: Bearer)")
	fs.Int64Var(&c.chunk, "chunk", 0, "bytes per PATCH (0: the rest in one)")
	fs.BoolVar(&c.checksum, "checksum", false, "send Upload-Checksum: sha256 with each PATCH")
	fs.StringVar(&c.status, "status", "", "Perseus-File-Status the last PATCH must answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fi, err := os.Stat(c.file)
	if err != nil {
		return err
	}
	size := fi.Size()
	ctx := context.Background()
	loc, off := c.resume, int64(0)
	if loc == "" {
		if loc, err = c.create(ctx, size); err != nil {
			return err
		}
	} else if off, err = c.offset(ctx, loc); err != nil {
		return err
	}
	fmt.Printf("location %s\n", loc)
	for {
		n := size - off
		if c.chunk > 0 {
			n = min(n, c.chunk)
		}
		resp, err := c.patch(ctx, loc, off, n)
		if err != nil {
			return err
		}
		got, _ := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
		if resp.StatusCode != http.StatusNoContent || got != off+n {
			return fmt.Errorf("tus PATCH at %d (%d bytes): %s, Upload-Offset %q", off, n, resp.Status, resp.Header.Get("Upload-Offset"))
		}
		if off = got; off == size {
			if c.status != "" && resp.Header.Get("Perseus-File-Status") != c.status {
				return fmt.Errorf("tus: the last PATCH answered Perseus-File-Status %q, want %q", resp.Header.Get("Perseus-File-Status"), c.status)
			}
			return nil
		}
	}
}

func (c tusClient) request(ctx context.Context, method, url string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	return req, nil
}

// create POSTs a new upload of size bytes and returns its URL.
func (c tusClient) create(ctx context.Context, size int64) (string, error) {
	req, err := c.request(ctx, http.MethodPost, c.endpoint, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Upload-Length", strconv.FormatInt(size, 10))
	req.Header.Set("Upload-Metadata", "filename "+base64.StdEncoding.EncodeToString([]byte(filepath.Base(c.file))))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("tus POST: %s", resp.Status)
	}
	loc, err := resp.Location()
	if err != nil {
		return "", fmt.Errorf("tus POST: %w", err)
	}
	return loc.String(), nil
}

// offset HEADs the upload for its offset. A PATCH cut off a moment ago
// may still hold the upload (423, or tusd's lock timeout): it asks again.
func (c tusClient) offset(ctx context.Context, loc string) (int64, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, err := c.request(ctx, http.MethodHead, loc, nil)
		if err != nil {
			return 0, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("tus HEAD: %s", resp.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// patch sends the file's n bytes from off in one PATCH.
func (c tusClient) patch(ctx context.Context, loc string, off, n int64) (*http.Response, error) {
	f, err := os.Open(c.file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var sum string
	if c.checksum {
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(f, off, n)); err != nil {
			return nil, err
		}
		sum = "sha256 " + base64.StdEncoding.EncodeToString(h.Sum(nil))
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, err
	}
	req, err := c.request(ctx, http.MethodPatch, loc, &chunkBody{f: f, end: off + n})
	if err != nil {
		return nil, err
	}
	req.ContentLength = n
	req.Header.Set("Upload-Offset", strconv.FormatInt(off, 10))
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	if sum != "" {
		req.Header.Set("Upload-Checksum", sum)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

// chunkBody is the bytes of a file from its descriptor's offset up to
// end, as a request body that the HTTP transport sends with sendfile(2):
// it exposes the descriptor (syscall.Conn), and since sendfile moves only
// the offset, Read goes by the offset too (as the SDK's fileBody does).
type chunkBody struct {
	f   *os.File
	end int64
}

func (b *chunkBody) Read(p []byte) (int, error) {
	pos, err := b.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	if pos >= b.end {
		return 0, io.EOF
	}
	return b.f.Read(p[:min(int64(len(p)), b.end-pos)])
}

func (b *chunkBody) SyscallConn() (syscall.RawConn, error) { return b.f.SyscallConn() }

func (b *chunkBody) Close() error { return nil } // patch closes the file
