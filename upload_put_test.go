package perseus

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
)

func TestUploadFile_expiredUploadURLIsRefreshedByCreatingAgain(t *testing.T) {
	content := []byte("slow link")
	path := writeTemp(t, "slow.txt", content)
	client, mux, serverURL := setup(t)
	calls := handleCreate(t, mux, uploadURLOf(serverURL))
	var puts atomic.Int32
	mux.HandleFunc("PUT /upload/f1", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if puts.Add(1) == 1 {
			writeJSON(w, http.StatusForbidden, `{"code":"upload_url_expired","message":"the upload URL has expired"}`)
			return
		}
		if string(body) != string(content) {
			t.Errorf("second PUT body = %q", body)
		}
		w.WriteHeader(http.StatusOK)
	})
	f, err := client.File.UploadFile(context.Background(), path)
	if err != nil || f.ID != "f1" {
		t.Fatalf("UploadFile = %+v, %v", f, err)
	}
	if n := len(calls()); n != 2 || puts.Load() != 2 {
		t.Fatalf("creates %d, PUTs %d; want 2 and 2 (a fresh URL after the 403)", n, puts.Load())
	}
}

func TestUploadFile_anyErrorAnswerToThePutIsAFailedUpload(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusGone} {
		path := writeTemp(t, "x.txt", []byte("x"))
		client, mux, serverURL := setup(t)
		handleCreate(t, mux, uploadURLOf(serverURL))
		mux.HandleFunc("PUT /upload/f1", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			writeJSON(w, status, `{"message":"refused"}`)
		})
		_, err := client.File.UploadFile(context.Background(), path)
		var ae *APIError
		if !errors.Is(err, ErrUploadFailed) || !errors.As(err, &ae) || ae.StatusCode != status {
			t.Errorf("PUT answered %d: err %v; want ErrUploadFailed carrying the APIError", status, err)
		}
	}
}
