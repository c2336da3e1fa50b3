// Package perseus is the Go SDK of the Perseus file API: upload, list, find, download, wait for and delete files.
package perseus

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// DefaultHost is where the client goes when PERSEUS_API_HOST is unset: the
// default address of `perseus serve`.
const DefaultHost = "http://127.0.0.1:8080"

// Version is the SDK version sent in the User-Agent.
const Version = "0.1.0"

// Client talks to one Perseus server. It is safe for concurrent use.
type Client struct {
	// File is the file service: client.File.UploadFile(ctx, path), …
	File *FileService
	// Webhooks is the webhooks service: client.Webhooks.Add(ctx, url), …
	Webhooks *WebhookService

	base      *url.URL
	apiKey    string
	http      *http.Client
	userAgent string
	retry     RetryPolicy
}

// Option configures a Client. Options are checked: NewClient fails on a bad one.
type Option func(*Client) error

// WithHost sets the API base URL, e.g. "http://127.0.0.1:8080" (a path prefix is kept).
func WithHost(host string) Option {
	return func(c *Client) error {
		u, err := url.Parse(strings.TrimSuffix(host, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("perseus: host %q is not an http(s) URL such as http://127.0.0.1:8080", host)
		}
		c.base = u
		return nil
	}
}

// WithAPIKey sets the API key sent as a Bearer token.
func WithAPIKey(key string) Option {
	return func(c *Client) error {
		if key == "" || strings.ContainsAny(key, " \r\n\t") {
			return errors.New("perseus: the API key must be non-empty and contain no whitespace")
		}
		c.apiKey = key
		return nil
	}
}

// WithHTTPClient sets the HTTP client used for every request.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("perseus: WithHTTPClient needs a non-nil client")
		}
		c.http = hc
		return nil
	}
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option {
	return func(c *Client) error {
		if ua == "" {
			return errors.New("perseus: the user agent must be non-empty")
		}
		c.userAgent = ua
		return nil
	}
}

// WithRetry sets how transient failures are retried (DefaultRetry when not
// given); RetryPolicy{} disables retries.
func WithRetry(p RetryPolicy) Option {
	return func(c *Client) error {
		if p.MaxAttempts < 0 || p.BaseDelay < 0 || p.MaxDelay < 0 || p.MaxElapsed < 0 {
			return errors.New("perseus: retry policy values must not be negative")
		}
		if p.MaxElapsed > 0 && p.MaxAttempts == 0 && p.MaxDelay == 0 {
			return errors.New("perseus: a retry policy bounded by MaxElapsed alone needs a positive MaxDelay, lest it retry without pause")
		}
		c.retry = p
		return nil
	}
}

// NewClient returns a client. Without options it reads PERSEUS_API_HOST
// (default DefaultHost) and LETTRIA_API_KEY, as the Python SDK does.
func NewClient(opts ...Option) (*Client, error) {
	c := &Client{http: &http.Client{Transport: defaultTransport()}, userAgent: "perseus-go/" + Version, retry: DefaultRetry}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	// The environment only fills what the options left unset, so a bad
	// PERSEUS_API_HOST does not break a client given WithHost.
	if c.base == nil {
		host := os.Getenv("PERSEUS_API_HOST")
		if host == "" {
			host = DefaultHost
		}
		if err := WithHost(host)(c); err != nil {
			return nil, fmt.Errorf("%w (from PERSEUS_API_HOST)", err)
		}
	}
	if key := os.Getenv("LETTRIA_API_KEY"); c.apiKey == "" && key != "" {
		if err := WithAPIKey(key)(c); err != nil {
			return nil, fmt.Errorf("%w (from LETTRIA_API_KEY)", err)
		}
	}
	c.File = &FileService{client: c}
	c.Webhooks = &WebhookService{client: c}
	return c, nil
}

// defaultTransport is http.DefaultTransport keeping enough idle connections
// per host for parallel parts and concurrent uploads (the default keeps 2,
// so each extra request would open a new connection). A program that
// replaced http.DefaultTransport (a mock, a tracer) gets its own, as it is.
func defaultTransport() http.RoundTripper {
	base, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return http.DefaultTransport
	}
	t := base.Clone()
	t.MaxIdleConnsPerHost = 64
	t.DialContext = dialBodyConns(t.DialContext)
	return t
}
