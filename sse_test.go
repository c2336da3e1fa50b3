package perseus

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// TestSSEReaderParsesAsTheStandardSays holds the parser to the HTML
// standard's examples and rules, read whole and a byte at a time (so that
// a CRLF split between reads is seen).
func TestSSEReaderParsesAsTheStandardSays(t *testing.T) {
	tests := []struct {
		name, in string
		want     []sseEvent
		comments int
	}{
		{"the server's own shape", "id: 7\nevent: file.uploaded\ndata: {\"a\":1}\n\n: heartbeat\n\nid: 8\nevent: file.deleted\ndata: {}\n\n",
			[]sseEvent{{"7", "file.uploaded", `{"a":1}`}, {"8", "file.deleted", "{}"}}, 1},
		{"CRLF", "id: 1\r\nevent: x\r\ndata: a\r\n\r\n", []sseEvent{{"1", "x", "a"}}, 0},
		{"CR", "id: 1\revent: x\rdata: a\r\r", []sseEvent{{"1", "x", "a"}}, 0},
		{"several data lines join with LF", "data: YHOO\ndata: +2\ndata: 10\n\n", []sseEvent{{"", "message", "YHOO\n+2\n10"}}, 0},
		{"no space after the colon, or two", "data:a\ndata:  b\n\n", []sseEvent{{"", "message", "a\n b"}}, 0},
		{"a field without a colon has an empty value", "data\n\ndata\ndata\n\ndata:\n\n", []sseEvent{{"", "message", ""}, {"", "message", "\n"}, {"", "message", ""}}, 0},
		{"the id persists, and an empty id clears it", "id: 3\ndata: a\n\ndata: b\n\nid\ndata: c\n\n",
			[]sseEvent{{"3", "message", "a"}, {"3", "message", "b"}, {"", "message", "c"}}, 0},
		{"an id with NUL is ignored", "id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n", []sseEvent{{"1", "message", "a"}, {"1", "message", "b"}}, 0},
		{"an event without data is not dispatched, nor is its type kept", "event: x\n\ndata: a\n\n", []sseEvent{{"", "message", "a"}}, 0},
		{"unknown fields and retry are ignored", "retry: 10\nfoo: bar\ndata: a\n\n", []sseEvent{{"", "message", "a"}}, 0},
		{"a leading BOM is dropped", "\uFEFFdata: a\n\n", []sseEvent{{"", "message", "a"}}, 0},
		{"comments, anywhere", ":hi\ndata: a\n: mid\ndata: b\n\n", []sseEvent{{"", "message", "a\nb"}}, 2},
		{"an event cut off by the end is dropped", "data: a\n\ndata: b\n", []sseEvent{{"", "message", "a"}}, 0},
		{"a line cut off by the end is dropped", "data: a\n\ndata: b", []sseEvent{{"", "message", "a"}}, 0},
	}
	for _, tt := range tests {
		for _, one := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tt.in)
			if one {
				r = iotest.OneByteReader(r)
			}
			sse := newSSEReader(r)
			var got []sseEvent
			for {
				ev, err := sse.next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("%s: %v", tt.name, err)
				}
				got = append(got, ev)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(sseEvent{})); diff != "" || sse.comments != tt.comments {
				t.Errorf("%s (a byte at a time: %v): %d comments, events (-want +got):\n%s", tt.name, one, sse.comments, diff)
			}
		}
	}
}

// TestSSEReaderSaysWhyAStreamBroke: a read error ends the stream with it,
// after the events that arrived whole.
func TestSSEReaderSaysWhyAStreamBroke(t *testing.T) {
	cut := errors.New("cut")
	sse := newSSEReader(io.MultiReader(strings.NewReader("data: a\n\ndata: b\n"), iotest.ErrReader(cut)))
	if ev, err := sse.next(); err != nil || ev.data != "a" {
		t.Fatalf("first: %+v %v", ev, err)
	}
	if _, err := sse.next(); !errors.Is(err, cut) {
		t.Errorf("after the cut: %v, want it", err)
	}
}
