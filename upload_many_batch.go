package perseus

import (
	"context"
	"errors"
	"fmt"
)

// How UploadFiles creates the records of small files (those hashed and
// sent in one PUT) where the server offers batch creates: one request for
// up to Limits.BatchCreate of them, instead of one each, sent while the
// files before them are being PUT, so that no PUT waits for its create.

// created is a file of UploadFiles handed to the sending with its batch
// create's answer.
type created struct {
	i   int               // the file's index in UploadFiles' paths
	res CreateFilesResult // its answer, when ok
	ok  bool              // false: no batch answered for it; it is created alone
}

// batchable splits the files to send (indexes of UploadFiles' paths) into
// those whose records go in batch creates and the rest, and returns the
// most files of one batch. Nothing goes in batches where the server offers
// none, or where there are not two files to put in one.
func (s *FileService) batchable(ctx context.Context, send []int, digests []digest, streams []int64) (batched, rest []int, most int) {
	for _, i := range send {
		if streams[i] == 0 && digests[i].partSize == 0 {
			batched = append(batched, i)
		} else {
			rest = append(rest, i)
		}
	}
	if len(batched) < 2 {
		return nil, send, 0
	}
	l, err := s.Limits(ctx)
	if err != nil || l.BatchCreate < 2 {
		return nil, send, 0
	}
	return batched, rest, l.BatchCreate
}

// createAhead creates the records of files (specs[j] names the file of
// index idx[j]) in batch creates of up to most files each, in order, and
// hands each file with its answer to the channel it returns as soon as its
// batch is answered; the channel is closed after the last. All files are
// hashed and ready, so the first batch takes only as many as are sent at
// once (concurrency), to start the PUTs soon; later ones take up to most.
// The channel holds one batch, so records are made at most about two
// batches ahead of their PUTs, never long before their bytes are sent. A
// batch that fails whole hands its files over unanswered, to be created
// one by one as without batches; a server that turns out not to route
// batch creates gets no more of them.
func (s *FileService) createAhead(ctx context.Context, idx []int, specs []NewFile, most, concurrency int) <-chan created {
	out := make(chan created, most)
	go func() {
		defer close(out)
		batching := true
		for j, n := 0, min(concurrency, most); j < len(idx); j, n = j+n, most {
			n = min(n, len(idx)-j)
			var res []CreateFilesResult
			var err error
			if batching {
				res, err = s.createBatch(ctx, specs[j:j+n])
				batching = !unsupported(err)
			}
			for k := range n {
				c := created{i: idx[j+k], ok: batching && err == nil}
				if c.ok {
					c.res = res[k]
				}
				out <- c
			}
		}
	}()
	return out
}

// uploadCreated sends the file at path, hashed as d, whose record a batch
// create answered with c: it PUTs the bytes to the URL answered; content
// the server has is that file, nothing sent (known); a refusal a retry
// may fix is left to a create of the file alone, which retries as the
// client's policy says; any other refusal is the file's error.
func (s *FileService) uploadCreated(ctx context.Context, path string, d digest, c CreateFilesResult, cfg uploadConfig, tr *tracker) (f *File, known bool, err error) {
	var ae *APIError
	switch {
	case c.Err == nil:
		if c.MaxFileSize > 0 && d.size > c.MaxFileSize {
			return nil, false, fmt.Errorf("perseus: %s is %d bytes; the server accepts at most %d", path, d.size, c.MaxFileSize)
		}
		f, err := s.uploadPut(ctx, path, &c.CreateFileResult, d, cfg, tr)
		return f, false, err
	case errors.Is(c.Err, ErrConflict):
		if c.File != nil {
			return c.File, true, nil
		}
		f, err := s.existing(ctx, d.hash)
		return f, err == nil, err
	case errors.As(c.Err, &ae) && retryable(ae.StatusCode, false):
		f, err := s.uploadHashed(ctx, path, d, cfg, tr)
		return f, false, err
	}
	return nil, false, c.Err
}
