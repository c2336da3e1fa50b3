package perseus

import (
	"bufio"
	"bytes"
	"io"
	"strings"
)

// sseEvent is one event of a text/event-stream, as dispatched.
type sseEvent struct {
	id    string // the last event ID (it persists across events, as the standard says)
	event string // the event type; "message" when the stream named none
	data  string
}

// sseReader reads a text/event-stream as the HTML standard's parser does
// (https://html.spec.whatwg.org/multipage/server-sent-events.html): lines
// end with CRLF, LF or CR; a line starting with a colon is a comment; any
// other is a field (id, event, data, retry; others ignored), its value
// after the first colon and one space; a blank line dispatches the event,
// several data lines joined with LF; an event with no data is not
// dispatched, nor is one cut off by the stream's end.
type sseReader struct {
	sc      *bufio.Scanner
	started bool // the first line was read (a BOM before it is dropped)
	lastID  string

	// Comments counts the comments read (a server's heartbeats).
	comments int
}

// maxSSELine bounds one line of a stream: an event's JSON is a file's
// record, far smaller.
const maxSSELine = 4 << 20

func newSSEReader(r io.Reader) *sseReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxSSELine)
	sc.Split(scanSSELines)
	return &sseReader{sc: sc}
}

// scanSSELines splits at CRLF, LF or CR. A CR at the end of what has
// arrived waits for the next byte, which may be its LF.
func scanSSELines(data []byte, atEOF bool) (advance int, token []byte, err error) {
	i := bytes.IndexAny(data, "\r\n")
	switch {
	case i < 0 && atEOF:
		// A last line without its end: the stream was cut, the line is dropped.
		return len(data), nil, nil
	case i < 0:
		return 0, nil, nil
	case data[i] == '\n':
		return i + 1, data[:i], nil
	case i+1 < len(data):
		if data[i+1] == '\n' {
			return i + 2, data[:i], nil
		}
		return i + 1, data[:i], nil
	case atEOF:
		return i + 1, data[:i], nil
	}
	return 0, nil, nil // a CR last: wait for what follows
}

// next returns the next event, or the error that ended the stream (io.EOF
// when it ended cleanly; an event it cut off is dropped).
func (r *sseReader) next() (sseEvent, error) {
	var data strings.Builder
	hasData := false
	event := ""
	for r.sc.Scan() {
		line := r.sc.Text()
		if !r.started {
			r.started = true
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		if line == "" {
			if !hasData {
				event = "" // nothing to dispatch; the type goes too
				continue
			}
			if event == "" {
				event = "message"
			}
			return sseEvent{id: r.lastID, event: event, data: strings.TrimSuffix(data.String(), "\n")}, nil
		}
		if line[0] == ':' {
			r.comments++
			continue
		}
		field, value, found := strings.Cut(line, ":")
		if found {
			value = strings.TrimPrefix(value, " ")
		}
		switch field {
		case "event":
			event = value
		case "data":
			data.WriteString(value)
			data.WriteByte('\n')
			hasData = true
		case "id":
			if !strings.ContainsRune(value, 0) {
				r.lastID = value
			}
		}
	}
	if err := r.sc.Err(); err != nil {
		return sseEvent{}, err
	}
	return sseEvent{}, io.EOF
}
