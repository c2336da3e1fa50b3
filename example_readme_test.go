package perseus_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/perseus-go/perseus"
)

// Example_readme is the README's SDK snippet, as it stands there, against a
// real server: TestREADMESnippetsAreExamples holds the two together.
func Example_readme() {
	host, dir, stop := startServer()
	defer stop()
	os.Setenv("PERSEUS_API_HOST", host)
	os.Setenv("LETTRIA_API_KEY", "dev-key")
	defer os.Unsetenv("PERSEUS_API_HOST")
	defer os.Unsetenv("LETTRIA_API_KEY")
	wd, err := os.Getwd()
	if err != nil {
		log.Fatal(err)
	}
	defer os.Chdir(wd)
	if err := os.Chdir(dir); err != nil { // the snippet names its file relative to here
		log.Fatal(err)
	}
	writeFile(dir, "report.pdf", "%PDF-1.7 quarterly numbers")
	ctx := context.Background()

	// The README's snippet, from here:
	client, err := perseus.NewClient() // PERSEUS_API_HOST, LETTRIA_API_KEY
	if err != nil {
		log.Fatal(err)
	}
	f, err := client.File.UploadFile(ctx, "report.pdf")
	if err != nil {
		log.Fatal(err)
	}
	done, err := client.File.WaitForFileUpload(ctx, f.ID)
	switch {
	case errors.Is(err, perseus.ErrUploadFailed): // the content did not match its hash
		log.Fatalf("%s failed: %v", f.Name, err)
	case errors.Is(err, perseus.ErrTimeout): // still pending after the timeout
		log.Fatalf("%s is still pending: %v", f.Name, err)
	case err != nil:
		log.Fatal(err)
	}
	fmt.Println(done.Name, done.Status)
	// Output:
	// report.pdf uploaded
}

// ExampleFileService_Events follows the caller's uploads as they happen:
// the README's snippet, against a real server, until its context ends.
func ExampleFileService_Events() {
	host, dir, stop := startServer()
	defer stop()
	client, err := perseus.NewClient(perseus.WithHost(host), perseus.WithAPIKey("dev-key"))
	if err != nil {
		log.Fatal(err)
	}
	writeFile(dir, "report.pdf", "%PDF-1.7 quarterly numbers")
	if _, err := client.File.UploadFile(context.Background(), filepath.Join(dir, "report.pdf")); err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()

	err = func() error {
		// The README's snippet, from here:
		uploaded := perseus.EventsOptions{Types: []perseus.EventType{perseus.EventFileUploaded}}
		for ev, err := range client.File.Events(ctx, uploaded) {
			if err != nil {
				return err // ctx's error once it ends
			}
			fmt.Println(ev.ID, ev.Type, ev.File.Name) // ev.ID as Since resumes after it
		}
		return nil
	}()
	fmt.Println("stopped:", err)
	// Output:
	// 2 file.uploaded report.pdf
	// stopped: context deadline exceeded
}

// TestREADMESnippetsAreExamples: every Go snippet of the README stands, line
// for line, in an example that runs (or, for the webhook receiver, in the
// test that runs it: internal/webhook's TestREADMEReceiver), so that none
// can stop compiling or skip an error unnoticed.
func TestREADMESnippetsAreExamples(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var example []byte
	for _, f := range []string{"example_readme_test.go", "internal/webhook/example_receiver_test.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		example = append(example, b...)
	}
	snippets := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllSubmatch(readme, -1)
	if len(snippets) == 0 {
		t.Fatal("no Go snippet in the README")
	}
	norm := func(b []byte) string {
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}
	for _, s := range snippets {
		if !strings.Contains(norm(example), norm(s[1])) {
			t.Errorf("the README's snippet is in no example:\n%s", s[1])
		}
	}
}
