package perseus_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/perseus-go/perseus"
)

func ExampleFileService_ListFiles() {
	client, dir, stop := exampleClient()
	defer stop()
	ctx := context.Background()
	for _, name := range []string{"jan.csv", "feb.csv", "notes.md"} {
		if _, err := client.File.UploadFile(ctx, writeFile(dir, name, "content of "+name)); err != nil {
			log.Fatal(err)
		}
	}

	// Newest first; pages are fetched as the loop goes on.
	for f, err := range client.File.ListFiles(ctx, perseus.ListOptions{PageSize: 2}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(f.Name, f.Status)
	}

	// Filters apply to every page.
	for f, err := range client.File.ListFiles(ctx, perseus.ListOptions{NamePrefix: "notes", Status: perseus.StatusUploaded}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("found", f.Name)
	}
	// Output:
	// notes.md uploaded
	// feb.csv uploaded
	// jan.csv uploaded
	// found notes.md
}

func ExampleFileService_DownloadFile() {
	client, dir, stop := exampleClient()
	defer stop()
	ctx := context.Background()
	f, err := client.File.UploadFile(ctx, writeFile(dir, "hello.txt", "hello, perseus"))
	if err != nil {
		log.Fatal(err)
	}

	// The bytes are checked against the file's SHA-256 on the way.
	var buf bytes.Buffer
	n, err := client.File.DownloadFile(ctx, f.ID, &buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, buf.String())
	// Output: 14 hello, perseus
}

func ExampleFileService_DownloadFileTo() {
	client, dir, stop := exampleClient()
	defer stop()
	ctx := context.Background()
	f, err := client.File.UploadFile(ctx, writeFile(dir, "report.txt", "quarterly numbers"))
	if err != nil {
		log.Fatal(err)
	}

	// The file appears at its path only once the bytes are verified.
	path := filepath.Join(dir, "copy.txt")
	if _, err := client.File.DownloadFileTo(ctx, f.ID, path); err != nil {
		log.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(b))
	// Output: quarterly numbers
}

func ExampleFileService_ListFilesPage() {
	client, dir, stop := exampleClient()
	defer stop()
	ctx := context.Background()
	for _, name := range []string{"a.txt", "b.txt", "c.txt"} {
		if _, err := client.File.UploadFile(ctx, writeFile(dir, name, name)); err != nil {
			log.Fatal(err)
		}
	}

	// One page at a time, for callers that keep the cursor themselves.
	cursor := ""
	for {
		page, err := client.File.ListFilesPage(ctx, perseus.ListOptions{PageSize: 2}, cursor)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(len(page.Files), page.NextCursor != "")
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	// Output:
	// 2 true
	// 1 false
}

// Example uploads a file, waits until the server has verified it, lists it
// and downloads it back, checked against its SHA-256.
func Example() {
	host, dir, stop := startServer()
	defer stop()
	ctx := context.Background()

	// NewClient() alone reads PERSEUS_API_HOST and LETTRIA_API_KEY.
	client, err := perseus.NewClient(perseus.WithHost(host), perseus.WithAPIKey("dev-key"))
	if err != nil {
		log.Fatal(err)
	}
	f, err := client.File.UploadFile(ctx, writeFile(dir, "report.txt", "quarterly numbers"))
	if err != nil {
		log.Fatal(err)
	}
	if f, err = client.File.WaitForFileUpload(ctx, f.ID); err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.Name, f.Status)

	for f, err := range client.File.ListFiles(ctx, perseus.ListOptions{Status: perseus.StatusUploaded}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("listed", f.Name)
	}

	var buf bytes.Buffer
	if _, err := client.File.DownloadFile(ctx, f.ID, &buf); err != nil {
		log.Fatal(err)
	}
	fmt.Println(buf.String())
	// Output:
	// report.txt uploaded
	// listed report.txt
	// quarterly numbers
}
