package perseus_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
)

// startServer runs a real Perseus server, `perseus serve` on the embedded
// default (SQLite records, local blob store, all in a temporary directory),
// as its own process: the SDK's examples and tests import nothing of the
// server, so that importing the SDK brings none of its dependencies. It
// accepts the API key "dev-key" and returns the server's URL, the directory
// for the example's own files, and a function that stops the server and
// removes the directory.
func startServer() (host, dir string, stop func()) {
	dir, err := os.MkdirTemp("", "perseus-example-")
	if err != nil {
		log.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(perseusBinary(), "serve", "--addr", addr, "--data", filepath.Join(dir, "data"),
		"--api-key", "dev-key", "--log-level", "error")
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	host = "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(host + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			log.Fatalf("perseus serve did not start at %s", host)
		}
	}
	return host, dir, func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		os.RemoveAll(dir)
	}
}

var (
	binaryOnce sync.Once
	binaryPath string
)

// perseusBinary builds cmd/perseus once for the test binary's life and
// returns its path; the directory it is in goes when the process ends
// (TestMain).
func perseusBinary() string {
	binaryOnce.Do(func() {
		d, err := os.MkdirTemp("", "perseus-example-bin-")
		if err != nil {
			log.Fatal(err)
		}
		binaryPath = filepath.Join(d, "perseus")
		build := exec.Command("go", "build", "-o", binaryPath, "./cmd/perseus")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			log.Fatalf("building perseus for the examples: %v", err)
		}
	})
	return binaryPath
}

func TestMain(m *testing.M) {
	// What uploads in one pass remember goes to a cache of the tests' own.
	cache, err := os.MkdirTemp("", "perseus-example-cache-")
	if err != nil {
		log.Fatal(err)
	}
	os.Setenv("XDG_CACHE_HOME", cache)
	code := m.Run()
	os.RemoveAll(cache)
	if binaryPath != "" {
		os.RemoveAll(filepath.Dir(binaryPath))
	}
	os.Exit(code)
}

// exampleClient starts a server and returns a client for it, as NewClient
// would with PERSEUS_API_HOST and LETTRIA_API_KEY set.
func exampleClient() (client *perseus.Client, dir string, stop func()) {
	host, dir, stop := startServer()
	client, err := perseus.NewClient(perseus.WithHost(host), perseus.WithAPIKey("dev-key"))
	if err != nil {
		log.Fatal(err)
	}
	return client, dir, stop
}

// writeFile writes content to dir/name and returns the path.
func writeFile(dir, name, content string) string {
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		log.Fatal(err)
	}
	return path
}

func ExampleNewClient() {
	host, _, stop := startServer()
	defer stop()

	// Without options, NewClient reads PERSEUS_API_HOST and LETTRIA_API_KEY.
	client, err := perseus.NewClient(
		perseus.WithHost(host),
		perseus.WithAPIKey("dev-key"),
		// Ride out outages of up to five minutes instead of one.
		perseus.WithRetry(perseus.RetryPolicy{BaseDelay: 200 * time.Millisecond, MaxDelay: 10 * time.Second, MaxElapsed: 5 * time.Minute}),
	)
	if err != nil {
		log.Fatal(err)
	}
	files, err := client.File.FindFiles(context.Background(), perseus.FindQuery{IDs: []string{"no-such-id"}})
	fmt.Println(len(files), err)

	// A bad key is refused by the server.
	other, _ := perseus.NewClient(perseus.WithHost(host), perseus.WithAPIKey("wrong-key"))
	_, err = other.File.FindFiles(context.Background(), perseus.FindQuery{})
	fmt.Println(errors.Is(err, perseus.ErrUnauthorized))
	// Output:
	// 0 <nil>
	// true
}

func ExampleFileService_UploadFile() {
	client, dir, stop := exampleClient()
	defer stop()
	ctx := context.Background()
	path := writeFile(dir, "report.txt", "quarterly numbers")

	var sent int64
	f, err := client.File.UploadFile(ctx, path, perseus.WithProgress(func(p perseus.Progress) { sent = p.Sent }))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.Name, f.Status, sent)

	// The same content again: the existing file comes back and nothing is sent.
	again, err := client.File.UploadFile(ctx, path, perseus.WithName("copy.txt"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(again.ID == f.ID, again.Name)
	// Output:
	// report.txt uploaded 17
	// true report.txt
}

func ExampleFileService_CreateFile() {
	client, _, stop := exampleClient()
	defer stop()
	ctx := context.Background()
	content := []byte("hello, perseus")
	sum := sha256.Sum256(content)
	hash := hex.EncodeToString(sum[:])

	res, err := client.File.CreateFile(ctx, "hello.txt", hash)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.File.Name, res.File.Status)

	// PUT the bytes to the upload URL: it is the credential, no API key is sent.
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, res.UploadURL, bytes.NewReader(content))
	if err != nil {
		log.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)

	// Once the content is uploaded, creating it again is a conflict.
	_, err = client.File.CreateFile(ctx, "hello.txt", hash)
	fmt.Println(errors.Is(err, perseus.ErrConflict))
	// Output:
	// hello.txt pending
	// 200
	// true
}

func ExampleFileService_FindFiles() {
	client, dir, stop := exampleClient()
	defer stop()
	ctx := context.Background()
	var hashes []string
	for _, name := range []string{"a.txt", "b.txt"} {
		hash, _, err := perseus.HashFile(writeFile(dir, name, "content of "+name))
		if err != nil {
			log.Fatal(err)
		}
		if _, err := client.File.UploadFile(ctx, filepath.Join(dir, name)); err != nil {
			log.Fatal(err)
		}
		hashes = append(hashes, hash)
	}

	files, err := client.File.FindFiles(ctx, perseus.FindQuery{IDs: []string{"no-such-id"}, SourceHashes: hashes})
	if err != nil {
		log.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name+" "+string(f.Status))
	}
	slices.Sort(names)
	fmt.Println(len(files), names)
	// Output: 2 [a.txt uploaded b.txt uploaded]
}

func ExampleFileService_FindFile() {
	client, dir, stop := exampleClient()
	defer stop()
	ctx := context.Background()
	f, err := client.File.UploadFile(ctx, writeFile(dir, "notes.md", "# notes"))
	if err != nil {
		log.Fatal(err)
	}

	found, err := client.File.FindFile(ctx, f.ID)
	fmt.Println(found.Name, found.Status, err)

	missing, err := client.File.FindFile(ctx, "no-such-id")
	fmt.Println(missing == nil, err)
	// Output:
	// notes.md uploaded <nil>
	// true <nil>
}

func ExampleFileService_DeleteFile() {
	client, dir, stop := exampleClient()
	defer stop()
	ctx := context.Background()
	f, err := client.File.UploadFile(ctx, writeFile(dir, "old.csv", "a,b\n1,2\n"))
	if err != nil {
		log.Fatal(err)
	}

	fmt.Println(client.File.DeleteFile(ctx, f.ID))
	gone, _ := client.File.FindFile(ctx, f.ID)
	fmt.Println(gone == nil)

	err = client.File.DeleteFile(ctx, f.ID)
	fmt.Println(errors.Is(err, perseus.ErrNotFound))
	// Output:
	// <nil>
	// true
	// true
}

func ExampleFileService_WaitForFileUpload() {
	client, _, stop := exampleClient()
	defer stop()
	ctx := context.Background()
	content := []byte("arrives a little later")
	sum := sha256.Sum256(content)
	res, err := client.File.CreateFile(ctx, "late.txt", hex.EncodeToString(sum[:]))
	if err != nil {
		log.Fatal(err)
	}

	// Someone else uploads the bytes, a little later.
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(100 * time.Millisecond)
		req, _ := http.NewRequest(http.MethodPut, res.UploadURL, bytes.NewReader(content))
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()

	f, err := client.File.WaitForFileUpload(ctx, res.File.ID, perseus.WithTimeout(time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.Name, f.Status)
	<-done
	// Output: late.txt uploaded
}
