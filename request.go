package perseus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// A request is what do sends: newRequest builds it afresh for each attempt,
// since a file's body is read once.
type request struct {
	method string
	// Where it goes, one of the two: path is an API path such as
	// "/api/v0/file", sent to the client's host with the API key; url is a
	// URL the server handed out (to upload a file or a part, or where
	// content is), which carries its own credential in its query: it gets
	// no key, and its query stays out of errors.
	path, url string
	body      any               // nil, a section of a file, a *readerBody, *batchFiles, or a value sent as JSON
	header    map[string]string // fields of its own; every request has the User-Agent

	// How do sends it, where that differs from the usual.
	once     bool                       // one attempt: nothing is retried
	redirect func(*http.Response) error // takes a redirect (3xx with a Location) instead of following it
}

// newRequest builds one attempt of r. A section of a file becomes a body
// of its own, counted for progress and sent with its length (see
// fileBody); a JSON body can be sent again by the transport (GetBody).
func (c *Client) newRequest(ctx context.Context, r request) (*http.Request, error) {
	target := r.url
	if r.path != "" {
		target = c.endpoint(r.path)
	}
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case section:
		fb, err := openBody(b.f, b.off, b.size, b.tr)
		if err != nil {
			return nil, err
		}
		body = fb
	case *readerBody:
		body = b // sent once: a request with one is never retried
	case *batchFiles:
		body = b.open()
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("perseus: encode request: %w", err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		if fb, ok := body.(*fileBody); ok {
			fb.Close()
		}
		return nil, err
	}
	switch b := r.body.(type) {
	case nil:
	case section:
		req.ContentLength = b.size
		if b.size == 0 {
			req.Body.Close()
			req.Body = http.NoBody
		}
	case *readerBody:
		req.ContentLength = b.size
		if b.size == 0 {
			req.Body = http.NoBody
		}
	case *batchFiles:
		req.ContentLength = b.length()
		req.Header.Set("Content-Type", "application/octet-stream")
		// The transport may send it again itself, on a fresh connection
		// when a kept-alive one turns out closed.
		req.GetBody = func() (io.ReadCloser, error) { return b.open(), nil }
	default:
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", c.userAgent)
	if r.path != "" && c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	return req, nil
}

// endpoint joins the base URL with an API path.
func (c *Client) endpoint(path string) string {
	return c.base.String() + path
}

// do sends r and hands a 2xx answer to handle (which may be nil); any other
// answer comes back as the *APIError of CheckResponse. What a retry can fix
// (see RetryPolicy) is sent again under the client's policy, honouring
// Retry-After; an error building the request is not. The answer's body is
// drained and closed.
//
// When r sends a section of a file, what each attempt sent counts as
// progress while it goes; a failed attempt's bytes are taken back when the
// next one starts or do gives up, and the whole section counts once handle
// accepts the answer.
func (c *Client) do(ctx context.Context, r request, handle func(*http.Response) error) error {
	hc, clock := c.http, retryClock{p: c.retry}
	if r.once {
		clock.p = RetryPolicy{}
	}
	if r.redirect != nil {
		noFollow := *c.http
		noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		hc = &noFollow
	}
	var body *fileBody // the attempt's, when it sends a file
	fail := func(err error) error {
		body.undo()
		return err
	}
	for {
		body.undo() // what the attempt before sent no longer counts
		req, err := c.newRequest(ctx, r)
		if err != nil {
			return fail(err) // it would fail the same way again
		}
		body, _ = req.Body.(*fileBody)
		stop := body.watch()
		resp, err := hc.Do(req)
		stop()
		clock.attempt++
		if err != nil {
			var ue *url.Error
			if r.url != "" && errors.As(err, &ue) {
				ue.URL = redact(req.URL) // the query is a credential: keep it out of errors and logs
			}
			if ctx.Err() != nil || isLocal(err) {
				return fail(err)
			}
			wait, again := clock.next(0)
			if !again || sleep(ctx, wait) != nil {
				return fail(err)
			}
			continue
		}
		if retryable(resp.StatusCode, r.url != "") {
			if wait, again := clock.next(retryAfter(resp)); again {
				discard(resp)
				if err := sleep(ctx, wait); err != nil {
					return fail(err)
				}
				continue
			}
		}
		err = handleAnswer(resp, r.redirect, handle)
		if err == nil {
			body.sent()
		}
		discard(resp)
		if err != nil {
			return fail(err)
		}
		return nil
	}
}

// handleAnswer hands the final answer of a request to redirect, when it is a
// redirect that do was told not to follow, or else to handle once
// CheckResponse has found it a 2xx.
func handleAnswer(resp *http.Response, redirect, handle func(*http.Response) error) error {
	if redirect != nil && resp.StatusCode/100 == 3 && resp.Header.Get("Location") != "" {
		return redirect(resp)
	}
	if err := CheckResponse(resp); err != nil {
		return err
	}
	if handle == nil {
		return nil
	}
	return handle(resp)
}

// discard reads what is left of an answer (up to 64 KiB, so that the
// connection can be used again) and closes it.
func discard(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// call sends a JSON request to an API path (body may be nil) and decodes a
// 2xx JSON answer into out (which may be nil).
func (c *Client) call(ctx context.Context, method, path string, body, out any) error {
	r := request{method: method, path: path, body: body, header: map[string]string{"Accept": "application/json"}}
	return c.do(ctx, r, func(resp *http.Response) error {
		if out == nil || resp.StatusCode == http.StatusNoContent {
			return nil
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("perseus: decode %s %s answer: %w", method, path, err)
		}
		return nil
	})
}
