package sign

import (
	"bytes"
	"net/url"
	"testing"
	"time"
)

// Signing an upload URL is on every create; checking it on every PUT.

func BenchmarkSignUploadURL(b *testing.B) {
	s := New(bytes.Repeat([]byte("k"), 32))
	exp := time.Now().Add(time.Hour)
	for b.Loop() {
		s.UploadQuery("default", "0193c1de-7a2b-7c3d-8e4f-5a6b7c8d9e0f", signHash, exp)
	}
}

func BenchmarkCheckUploadURL(b *testing.B) {
	s := New(bytes.Repeat([]byte("k"), 32))
	id := "0193c1de-7a2b-7c3d-8e4f-5a6b7c8d9e0f"
	raw := s.UploadQuery("default", id, signHash, time.Now().Add(time.Hour))
	now := time.Now()
	for b.Loop() {
		q, err := url.ParseQuery(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, e := s.CheckUpload(id, q, now); e != nil {
			b.Fatal(e)
		}
	}
}
