package perseus

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// waitParam returns the long-poll duration the client asked for, failing the
// test unless it is a positive duration of at most 30 s.
func waitParam(t *testing.T, r *http.Request) time.Duration {
	t.Helper()
	v := r.URL.Query().Get("wait")
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > 30*time.Second {
		t.Errorf("wait = %q, want a duration in (0, 30s]", v)
	}
	return d
}

// hold keeps a long-poll request for d or until the client leaves.
func hold(r *http.Request, d time.Duration) {
	select {
	case <-time.After(d):
	case <-r.Context().Done():
	}
}

// handleNoLongPoll makes GET /api/v0/file/f1 answer as a server without that
// endpoint would, and counts the calls.
func handleNoLongPoll(mux *http.ServeMux, gets *atomic.Int32) {
	mux.HandleFunc("GET /api/v0/file/f1", func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		writeJSON(w, http.StatusNotFound, `{"message":"no such endpoint"}`)
	})
}

// handleFindStatuses answers finds of f1 with each status in turn (the last
// repeats) and returns the times the finds arrived.
func handleFindStatuses(t *testing.T, mux *http.ServeMux, statuses ...string) func() []time.Time {
	var mu sync.Mutex
	var at []time.Time
	mux.HandleFunc("POST /api/v0/file/find", func(w http.ResponseWriter, r *http.Request) {
		testJSONBody(t, r, `{"ids":["f1"]}`)
		mu.Lock()
		at = append(at, time.Now())
		st := statuses[min(len(at), len(statuses))-1]
		mu.Unlock()
		writeJSON(w, http.StatusOK, `{"files":[{"id":"f1","status":"`+st+`","reason":"r"}]}`)
	})
	return func() []time.Time { mu.Lock(); defer mu.Unlock(); return at }
}

func TestWaitForFileUpload_longPollReturnsUploadedFile(t *testing.T) {
	client, mux, _ := setup(t)
	var gets atomic.Int32
	mux.HandleFunc("GET /api/v0/file/f1", func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		waitParam(t, r)
		testHeader(t, r, "Authorization", "Bearer "+testKey)
		hold(r, 50*time.Millisecond) // the upload completes while the request is held
		writeJSON(w, http.StatusOK, `{"id":"f1","name":"a","status":"uploaded","createdAt":"`+testCreated+`"}`)
	})
	mux.HandleFunc("POST /api/v0/file/find", func(w http.ResponseWriter, r *http.Request) {
		t.Error("find called although the long poll works")
	})
	got, err := client.File.WaitForFileUpload(t.Context(), "f1")
	if err != nil {
		t.Fatalf("WaitForFileUpload: %v", err)
	}
	want := &File{ID: "f1", Name: "a", Status: StatusUploaded, CreatedAt: testCreatedAt}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("WaitForFileUpload mismatch (-want +got):\n%s", diff)
	}
	if gets.Load() != 1 {
		t.Errorf("GET requests = %d, want 1", gets.Load())
	}
}

func TestWaitForFileUpload_failedIsFileFailedError(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, mux *http.ServeMux)
	}{
		{"long poll", func(t *testing.T, mux *http.ServeMux) {
			mux.HandleFunc("GET /api/v0/file/f1", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, `{"id":"f1","status":"failed","reason":"r"}`)
			})
		}},
		{"polling", func(t *testing.T, mux *http.ServeMux) {
			handleNoLongPoll(mux, new(atomic.Int32))
			handleFindStatuses(t, mux, "pending", "failed")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, mux, _ := setup(t)
			tt.setup(t, mux)
			_, err := client.File.WaitForFileUpload(t.Context(), "f1", WithPollingInterval(time.Millisecond))
			if !errors.Is(err, ErrUploadFailed) {
				t.Fatalf("WaitForFileUpload = %v, want ErrUploadFailed", err)
			}
			var ffe *FileFailedError
			if !errors.As(err, &ffe) || ffe.File.ID != "f1" || ffe.File.Reason != "r" {
				t.Errorf("WaitForFileUpload error = %#v, want a *FileFailedError for f1 with its reason", err)
			}
		})
	}
}

func TestWaitForFileUpload_fallsBackToPollingFindAtTheInterval(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"404 without code", http.StatusNotFound, `{"message":"no such endpoint"}`},
		{"404 with another code", http.StatusNotFound, `{"message":"no such endpoint","code":"not_found"}`},
		{"405", http.StatusMethodNotAllowed, `{"message":"method not allowed"}`},
		{"501", http.StatusNotImplemented, `{"message":"not implemented"}`},
	}
	const interval = 30 * time.Millisecond
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, mux, _ := setup(t)
			var gets atomic.Int32
			mux.HandleFunc("GET /api/v0/file/f1", func(w http.ResponseWriter, r *http.Request) {
				gets.Add(1)
				writeJSON(w, tt.status, tt.body)
			})
			finds := handleFindStatuses(t, mux, "pending", "pending", "uploaded")
			got, err := client.File.WaitForFileUpload(t.Context(), "f1", WithPollingInterval(interval))
			if err != nil {
				t.Fatalf("WaitForFileUpload: %v", err)
			}
			if got.Status != StatusUploaded {
				t.Errorf("WaitForFileUpload = %+v, want uploaded", got)
			}
			at := finds()
			if gets.Load() != 1 || len(at) != 3 {
				t.Errorf("GETs = %d, finds = %d; want 1 GET then 3 finds", gets.Load(), len(at))
			}
			for i := 1; i < len(at); i++ {
				if gap := at[i].Sub(at[i-1]); gap < interval {
					t.Errorf("find %d came %v after the previous one, want at least the interval %v", i+1, gap, interval)
				}
			}
		})
	}
}

func TestWaitForFileUpload_serverIgnoringWaitIsAskedOncePerInterval(t *testing.T) {
	client, mux, _ := setup(t)
	var gets atomic.Int32
	mux.HandleFunc("GET /api/v0/file/f1", func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		writeJSON(w, http.StatusOK, `{"id":"f1","status":"pending"}`) // at once, despite ?wait=
	})
	_, err := client.File.WaitForFileUpload(t.Context(), "f1",
		WithPollingInterval(50*time.Millisecond), WithTimeout(300*time.Millisecond))
	if !errors.Is(err, ErrTimeout) {
		t.Errorf("WaitForFileUpload = %v, want ErrTimeout", err)
	}
	if n := gets.Load(); n > 10 {
		t.Errorf("GET requests in 300ms at a 50ms interval = %d, want about 6", n)
	}
}

func TestWaitForFileUpload_timesOut(t *testing.T) {
	const timeout = 150 * time.Millisecond
	tests := []struct {
		name  string
		setup func(t *testing.T, mux *http.ServeMux)
	}{
		{"long poll", func(t *testing.T, mux *http.ServeMux) {
			var gets atomic.Int32
			mux.HandleFunc("GET /api/v0/file/f1", func(w http.ResponseWriter, r *http.Request) {
				var d time.Duration // a last ask right at the deadline may carry no wait
				if gets.Add(1) == 1 || r.URL.Query().Has("wait") {
					d = waitParam(t, r)
				}
				if d > timeout {
					t.Errorf("wait = %v, longer than the timeout %v", d, timeout)
				}
				hold(r, d)
				writeJSON(w, http.StatusOK, `{"id":"f1","status":"pending"}`)
			})
		}},
		{"polling", func(t *testing.T, mux *http.ServeMux) {
			handleNoLongPoll(mux, new(atomic.Int32))
			handleFindStatuses(t, mux, "pending")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, mux, _ := setup(t)
			tt.setup(t, mux)
			start := time.Now()
			_, err := client.File.WaitForFileUpload(t.Context(), "f1",
				WithPollingInterval(20*time.Millisecond), WithTimeout(timeout))
			if !errors.Is(err, ErrTimeout) {
				t.Errorf("WaitForFileUpload = %v, want ErrTimeout", err)
			}
			if elapsed := time.Since(start); elapsed < timeout || elapsed > 3*time.Second {
				t.Errorf("WaitForFileUpload gave up after %v, want about %v", elapsed, timeout)
			}
		})
	}
}

func TestWaitForFileUpload_contextCanceled(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, mux *http.ServeMux)
	}{
		{"during a long poll", func(t *testing.T, mux *http.ServeMux) {
			mux.HandleFunc("GET /api/v0/file/f1", func(w http.ResponseWriter, r *http.Request) {
				hold(r, waitParam(t, r))
				writeJSON(w, http.StatusOK, `{"id":"f1","status":"pending"}`)
			})
		}},
		{"while polling", func(t *testing.T, mux *http.ServeMux) {
			handleNoLongPoll(mux, new(atomic.Int32))
			handleFindStatuses(t, mux, "pending")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, mux, _ := setup(t)
			tt.setup(t, mux)
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(50*time.Millisecond, cancel)
			_, err := client.File.WaitForFileUpload(ctx, "f1", WithPollingInterval(20*time.Millisecond))
			if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
				t.Errorf("WaitForFileUpload = %v, want context.Canceled", err)
			}
		})
	}
}

func TestWaitForFileUpload_unknownFileIsErrNotFound(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, mux *http.ServeMux)
	}{
		{"long poll", func(t *testing.T, mux *http.ServeMux) {
			mux.HandleFunc("GET /api/v0/file/f1", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusNotFound, `{"message":"no file with this id","code":"file_not_found"}`)
			})
			mux.HandleFunc("POST /api/v0/file/find", func(w http.ResponseWriter, r *http.Request) {
				t.Error("find called although the server said the file does not exist")
			})
		}},
		{"polling", func(t *testing.T, mux *http.ServeMux) {
			handleNoLongPoll(mux, new(atomic.Int32))
			mux.HandleFunc("POST /api/v0/file/find", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, `{"files":[]}`)
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, mux, _ := setup(t)
			tt.setup(t, mux)
			if f, err := client.File.WaitForFileUpload(t.Context(), "f1"); !errors.Is(err, ErrNotFound) {
				t.Errorf("WaitForFileUpload = %v, %v; want ErrNotFound", f, err)
			}
		})
	}
}

func TestWaitForFileUpload_unauthorizedIsNotMistakenForNoLongPoll(t *testing.T) {
	client, mux, _ := setup(t)
	mux.HandleFunc("GET /api/v0/file/f1", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusUnauthorized, `{"message":"missing or unknown API key"}`)
	})
	if _, err := client.File.WaitForFileUpload(t.Context(), "f1"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("WaitForFileUpload = %v, want ErrUnauthorized", err)
	}
}

func TestWaitForFileUpload_rejectsNonPositiveOptions(t *testing.T) {
	client, _, _ := setup(t) // any request fails the test: nothing is registered
	for _, opt := range []WaitOption{WithPollingInterval(0), WithTimeout(-time.Second)} {
		if _, err := client.File.WaitForFileUpload(t.Context(), "f1", opt); err == nil {
			t.Error("WaitForFileUpload with a non-positive option succeeded, want an error")
		}
	}
}
