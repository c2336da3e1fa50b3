package perseus

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// WaitOption configures WaitForFileUpload.
type WaitOption func(*waitConfig)

type waitConfig struct {
	interval time.Duration
	timeout  time.Duration
}

// WithPollingInterval sets how often to ask, on servers without long-poll (default 0.5 s).
func WithPollingInterval(d time.Duration) WaitOption { return func(c *waitConfig) { c.interval = d } }

// WithTimeout sets how long to wait in all (default 3600 s).
func WithTimeout(d time.Duration) WaitOption { return func(c *waitConfig) { c.timeout = d } }

// longPoll is how long one long-poll request is held by the server.
const longPoll = 30 * time.Second

// WaitForFileUpload waits until the file is uploaded and returns it. A file
// that ends failed returns a *FileFailedError (errors.Is ErrUploadFailed); a
// timeout returns ErrTimeout; ctx cancellation returns ctx's error. It
// long-polls servers that support it and otherwise polls FindFile every
// polling interval, as the Python SDK does.
func (s *FileService) WaitForFileUpload(ctx context.Context, id string, opts ...WaitOption) (*File, error) {
	cfg := waitConfig{interval: 500 * time.Millisecond, timeout: time.Hour}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.interval <= 0 || cfg.timeout <= 0 {
		return nil, errors.New("perseus: polling interval and timeout must be positive")
	}
	wctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	longPollOK := true
	for {
		var f *File
		var err error
		asked := time.Now()
		if longPollOK {
			f, err = s.getFile(wctx, id, min(longPoll, time.Until(deadline(wctx))))
			if unsupported(err) {
				longPollOK, err = false, nil
				continue
			}
		} else {
			f, err = s.FindFile(wctx, id)
			if err == nil && f == nil {
				err = fmt.Errorf("perseus: file %s: %w", id, ErrNotFound)
			}
		}
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil && wctx.Err() != nil:
			return nil, fmt.Errorf("perseus: file %s not final after %v: %w", id, cfg.timeout, ErrTimeout)
		case err != nil:
			return nil, err
		case f.Status == StatusUploaded:
			return f, nil
		case f.Status == StatusFailed:
			return f, &FileFailedError{File: f}
		}
		// Polling waits the interval between asks; a long poll that came back
		// early with a file not yet final (a server that ignores ?wait=) waits
		// the rest of it, so that such a server is not asked in a tight loop.
		pause := cfg.interval
		if longPollOK {
			pause -= time.Since(asked)
		}
		if pause > 0 {
			if err := sleep(wctx, pause); err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return f, fmt.Errorf("perseus: file %s still %s after %v: %w", id, f.Status, cfg.timeout, ErrTimeout)
			}
		}
	}
}

// deadline returns ctx's deadline, or the zero time when it has none.
func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}
