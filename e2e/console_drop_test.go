package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// consoleDrop: a file and a folder dragged onto #dropzone (the browser's
// own drag and drop, with real paths, through Input.dispatchDragEvent) are
// uploaded, the folder's files walked with webkitGetAsEntry and named by
// their path from the folder's parent, its dotfiles skipped, as the CLI
// names them.
func consoleDrop(t *testing.T, tb *tab) {
	p := consoleServer(t)
	dir := t.TempDir()
	loose, _ := writeRandom(t, dir, "loose.txt", 2000)
	folder := filepath.Join(dir, "reports")
	if err := os.MkdirAll(filepath.Join(folder, "q1", ".cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeRandom(t, filepath.Join(folder, "q1"), "a.csv", 3000)
	writeRandom(t, folder, "summary.txt", 400)
	writeRandom(t, folder, ".DS_Store", 10)
	writeRandom(t, filepath.Join(folder, "q1", ".cache"), "x", 10)

	tb.open(p.URL)
	tb.signIn(p.Key)
	x := eval[float64](tb, `(() => { const r = document.querySelector("#dropzone").getBoundingClientRect(); return r.left + r.width / 2; })()`)
	y := eval[float64](tb, `(() => { const r = document.querySelector("#dropzone").getBoundingClientRect(); return r.top + r.height / 2; })()`)
	data := &input.DragData{Items: []*input.DragDataItem{}, Files: []string{loose, folder}, DragOperationsMask: 1}
	for _, typ := range []input.DispatchDragEventType{input.DispatchDragEventTypeDragEnter, input.DispatchDragEventTypeDragOver, input.DispatchDragEventTypeDrop} {
		ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
		_, err := chromedp.Call(ctx, input.DispatchDragEvent, input.DispatchDragEventParams{Type: typ, X: x, Y: y, Data: data})
		cancel()
		if err != nil {
			t.Fatalf("Input.dispatchDragEvent %s: %v", typ, err)
		}
	}
	names := []string{"loose.txt", "reports/q1/a.csv", "reports/summary.txt"}
	tb.waitUploads("uploaded", 60*time.Second, names...)
	if got := eval[[]string](tb, `[...document.querySelectorAll("li.upload")].map((li) => li.dataset.name).sort()`); strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("dropped: li.upload names = %v, want %v (dotfiles and dot-folders skipped)", got, names)
	}
	files := byName(listAll(t, p))
	for _, n := range names {
		if f, ok := files[n]; !ok || f.Status != "uploaded" {
			t.Errorf("the server's %s: %+v (present %v), want uploaded", n, f, ok)
		}
	}
	if len(files) != len(names) {
		t.Errorf("the server has %d files, want %d", len(files), len(names))
	}
}
