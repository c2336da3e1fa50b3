package server

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/perseus-go/perseus/store/meta"
)

// Listing pages: how many files one answer holds by default and at most.
const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

type listResponse struct {
	Files      []File `json:"files"`
	NextCursor string `json:"nextCursor,omitempty"`
}

// handleList answers GET /api/v0/file: the caller's files, newest first, one
// page at a time. nextCursor, when present, fetches the page that follows;
// its absence means this is the last page.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	q, limit, e := parseList(r.URL.Query())
	if e != nil {
		writeError(w, e)
		return
	}
	q.Limit = limit + 1 // one more, to know whether another page follows
	files, err := s.cfg.Meta.List(r.Context(), tenantOf(r), q)
	if err != nil {
		s.storeError(w, r, "list", err)
		return
	}
	res := listResponse{}
	if len(files) > limit {
		files = files[:limit]
		res.NextCursor = encodeCursor(meta.PositionOf(files[limit-1]))
	}
	res.Files = toFiles(files)
	writeJSON(w, http.StatusOK, res)
}

// parseList reads limit, cursor, status and namePrefix; each may be absent.
func parseList(v url.Values) (meta.ListQuery, int, *Error) {
	var q meta.ListQuery
	limit := defaultListLimit
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxListLimit {
			return q, 0, ErrInvalidLimit.With("limit=%q: %s", l, ErrInvalidLimit.Message)
		}
		limit = n
	}
	if c := v.Get("cursor"); c != "" {
		p, ok := decodeCursor(c)
		if !ok {
			return q, 0, ErrInvalidCursor
		}
		q.After = &p
	}
	switch st := meta.Status(v.Get("status")); st {
	case "", meta.StatusPending, meta.StatusUploaded, meta.StatusFailed:
		q.Status = st
	default:
		return q, 0, ErrInvalidStatus.With("status=%q: %s", st, ErrInvalidStatus.Message)
	}
	q.NamePrefix = v.Get("namePrefix")
	if len(q.NamePrefix) > 1024 || !utf8.ValidString(q.NamePrefix) || strings.ContainsRune(q.NamePrefix, 0) {
		return q, 0, ErrInvalidPrefix
	}
	return q, limit, nil
}

// cursor is what a nextCursor holds: the position of the last file of a page.
// It is opaque to clients; the version lets its shape change later.
type cursor struct {
	V  int    `json:"v"`
	T  int64  `json:"t"` // CreatedAt, Unix nanoseconds
	ID string `json:"i"`
}

func encodeCursor(p meta.Position) string {
	b, _ := json.Marshal(cursor{V: 1, T: p.CreatedAt.UnixNano(), ID: p.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (meta.Position, bool) {
	if len(s) > 2048 {
		return meta.Position{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return meta.Position{}, false
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.V != 1 || c.ID == "" {
		return meta.Position{}, false
	}
	return meta.Position{CreatedAt: time.Unix(0, c.T).UTC(), ID: c.ID}, true
}
