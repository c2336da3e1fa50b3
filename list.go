package perseus

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

// ListOptions selects the files ListFiles returns. The zero value lists every file.
type ListOptions struct {
	// Status keeps only files in this status; empty keeps all.
	Status Status
	// NamePrefix keeps only files whose name starts with it (byte for byte,
	// case-sensitive); empty keeps all.
	NamePrefix string
	// PageSize is how many files one request fetches, 1 to 1000; 0 lets the
	// server choose (100).
	PageSize int
}

// FilePage is one page of a listing: its files, newest first, and the cursor
// of the page that follows ("" on the last page).
type FilePage struct {
	Files      []*File `json:"files"`
	NextCursor string  `json:"nextCursor,omitempty"`
}

// ListFiles returns the caller's files, newest first, as an iterator that
// fetches one page at a time as the loop goes on and stops fetching when the
// loop stops. A failed request ends the iteration with (nil, err).
//
//	for f, err := range client.File.ListFiles(ctx, perseus.ListOptions{Status: perseus.StatusUploaded}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(f.Name)
//	}
func (s *FileService) ListFiles(ctx context.Context, opts ListOptions) iter.Seq2[*File, error] {
	return func(yield func(*File, error) bool) {
		cursor := ""
		for {
			page, err := s.ListFilesPage(ctx, opts, cursor)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, f := range page.Files {
				if !yield(f, nil) {
					return
				}
			}
			if page.NextCursor == "" || len(page.Files) == 0 {
				return
			}
			cursor = page.NextCursor
		}
	}
}

// ListFilesPage fetches one page of the listing ListFiles walks: the first
// when cursor is empty, otherwise the page after the one whose NextCursor
// it is.
func (s *FileService) ListFilesPage(ctx context.Context, opts ListOptions, cursor string) (*FilePage, error) {
	q := url.Values{}
	if opts.Status != "" {
		q.Set("status", string(opts.Status))
	}
	if opts.NamePrefix != "" {
		q.Set("namePrefix", opts.NamePrefix)
	}
	if opts.PageSize != 0 {
		q.Set("limit", strconv.Itoa(opts.PageSize))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	path := "/api/v0/file"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var page FilePage
	if err := s.client.call(ctx, http.MethodGet, path, nil, &page); err != nil {
		if unsupported(err) {
			return nil, fmt.Errorf("perseus: this server offers no listing (it speaks only the v0 contract): %w", err)
		}
		return nil, err
	}
	if page.Files == nil {
		page.Files = []*File{}
	}
	return &page, nil
}
