package local_test

import (
	"testing"

	"github.com/perseus-go/perseus/store/blob"
	"github.com/perseus-go/perseus/store/blob/blobtest"
	"github.com/perseus-go/perseus/store/blob/local"
)

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		s, err := local.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestKeysCannotEscapeRoot(t *testing.T) {
	s, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"../x", "/etc/passwd", "a/../../b", "a//b", "", "a/./b"} {
		if _, err := s.Create(t.Context(), key); err == nil {
			t.Errorf("Create(%q) succeeded, want an error", key)
		}
	}
}
