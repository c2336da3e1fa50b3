package backend

import (
	"strings"
	"testing"
)

func TestRedactHidesEveryPassword(t *testing.T) {
	for _, raw := range []string{
		"postgres://u:secret@db:5432/p",
		"postgres://u@db/p?password=secret&sslmode=require",
		"postgres://u@db/p?sslpassword=secret",
		"s3://bucket?endpoint=http://h:9000&region=r",
	} {
		got := Redact(raw)
		if strings.Contains(got, "secret") {
			t.Errorf("Redact(%q) = %q: the password shows", raw, got)
		}
		if !strings.Contains(got, "://") {
			t.Errorf("Redact(%q) = %q: not a URL any more", raw, got)
		}
	}
}
