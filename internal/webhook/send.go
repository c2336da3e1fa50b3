package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Sender posts signed deliveries: through connections whose every address
// its Guard checks, never following a redirect, never through a proxy, and
// giving each POST at most its timeout, answer included.
type Sender struct {
	client    *http.Client
	userAgent string
}

// NewSender returns a Sender held to g, giving each POST timeout.
func NewSender(g Guard, timeout time.Duration, userAgent string) *Sender {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, ControlContext: g.control}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would make the connection, to addresses the guard never sees
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	return &Sender{
		client: &http.Client{Transport: tr, Timeout: timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		userAgent: userAgent,
	}
}

// Result is how one POST went.
type Result struct {
	Status   int           // the receiver's HTTP status; 0 when it did not answer
	Duration time.Duration // from the request's start to the end of its answer
	Err      error         // nil when the receiver answered 2xx; otherwise why not, for a person
}

// OK reports whether the receiver took the delivery (answered 2xx).
func (r Result) OK() bool { return r.Err == nil }

// Send POSTs body to url, signed with secret as message id (the same for
// every attempt of one event, so that receivers can tell a retry).
func (s *Sender) Send(ctx context.Context, url, secret, id string, body []byte) Result {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Result{Err: fmt.Errorf("the URL is not usable: %v", err)}
	}
	if err := SetHeaders(req.Header, secret, id, time.Now(), body); err != nil {
		return Result{Err: err}
	}
	req.Header.Set("User-Agent", s.userAgent)
	res, err := s.client.Do(req)
	if err != nil {
		return Result{Duration: time.Since(start), Err: sendError(err)}
	}
	defer res.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(res.Body, 256))
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // so the connection may serve again
	r := Result{Status: res.StatusCode, Duration: time.Since(start)}
	if res.StatusCode/100 != 2 {
		msg := fmt.Sprintf("the receiver answered %s", res.Status)
		if res.StatusCode/100 == 3 {
			msg += " (redirects are not followed: register the URL it redirects to)"
		}
		if t := oneLine(head); t != "" {
			msg += ": " + t
		}
		r.Err = errors.New(msg)
	}
	return r
}

// sendError says why a POST got no answer, without the URL (which the
// webhook's list shows) and, for a refused address, in the guard's words.
func sendError(err error) error {
	var de *deniedError
	if errors.As(err, &de) {
		return de
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil && strings.HasPrefix(err.Error(), "Post ") {
			err = inner
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return fmt.Errorf("no answer within the timeout: %v", err)
	}
	return err
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// oneLine returns b as one line of printable text, at most 200 bytes.
func oneLine(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return ' '
		}
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, string(b))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		n := 200
		for !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "…"
	}
	return s
}
