package perseus

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCheckResponse(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   *APIError // nil: no error
	}{
		{"2xx is no error", 200, `{}`, nil},
		{"JSON message and code", 400, `{"message":"name is bad","code":"invalid_name"}`,
			&APIError{StatusCode: 400, Code: "invalid_name", Message: "name is bad"}},
		{"non-JSON body becomes the message", 502, "<html>bad gateway</html>\n",
			&APIError{StatusCode: 502, Message: "<html>bad gateway</html>"}},
		{"JSON without message is shown as is", 500, `{"error":"boom"}`,
			&APIError{StatusCode: 500, Message: `{"error":"boom"}`}},
		{"empty body", 404, "", &APIError{StatusCode: 404}},
		{"huge body is not a message", 500, strings.Repeat("x", 600), &APIError{StatusCode: 500}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "http://h/api/v0/file", nil)
			resp := &http.Response{StatusCode: tt.status, Body: io.NopCloser(strings.NewReader(tt.body)), Request: req}
			err := CheckResponse(resp)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckResponse = %v, want nil", err)
				}
				return
			}
			tt.want.Method, tt.want.URL = http.MethodPost, "http://h/api/v0/file"
			var got *APIError
			if !errors.As(err, &got) {
				t.Fatalf("CheckResponse = %v, want an *APIError", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("APIError mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAPIError_ErrorUsesStatusTextWithoutMessage(t *testing.T) {
	err := &APIError{StatusCode: 404, Method: "GET", URL: "http://h/x"}
	if got, want := err.Error(), "perseus: GET http://h/x: 404 Not Found"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestAPIError_redactsQueryOfUploadURL(t *testing.T) {
	u, _ := url.Parse("http://h/upload/f1?sig=SECRET&exp=123")
	resp := &http.Response{StatusCode: 403, Body: io.NopCloser(strings.NewReader(`{"message":"expired"}`)),
		Request: &http.Request{Method: http.MethodPut, URL: u}}
	msg := CheckResponse(resp).Error()
	if strings.Contains(msg, "SECRET") || strings.Contains(msg, "sig=") {
		t.Errorf("Error() = %q leaks the upload URL's query", msg)
	}
	if !strings.Contains(msg, "http://h/upload/f1") || !strings.Contains(msg, "expired") {
		t.Errorf("Error() = %q, want the URL's path and the message", msg)
	}
}

func TestAPIError_matchesSentinelsByStatus(t *testing.T) {
	sentinels := []error{ErrNotFound, ErrConflict, ErrUnauthorized, ErrUploadFailed, ErrTimeout}
	tests := []struct {
		status int
		want   error // the one sentinel that matches, or nil
	}{
		{400, nil}, {401, ErrUnauthorized}, {403, nil}, {404, ErrNotFound}, {409, ErrConflict},
		{410, ErrNotFound}, {422, ErrUploadFailed}, {500, nil}, {503, nil},
	}
	for _, tt := range tests {
		err := error(&APIError{StatusCode: tt.status})
		for _, s := range sentinels {
			if got := errors.Is(err, s); got != (s == tt.want) {
				t.Errorf("errors.Is(%d, %v) = %v, want %v", tt.status, s, got, s == tt.want)
			}
		}
	}
}

func TestFileFailedError(t *testing.T) {
	tests := []struct {
		file *File
		want string
	}{
		{&File{ID: "f1", Reason: "hash mismatch"}, "perseus: file f1 failed: hash mismatch"},
		{&File{ID: "f1"}, "perseus: file f1 failed"},
	}
	for _, tt := range tests {
		err := error(&FileFailedError{File: tt.file})
		if got := err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
		if !errors.Is(err, ErrUploadFailed) {
			t.Errorf("errors.Is(%v, ErrUploadFailed) = false", err)
		}
	}
}
