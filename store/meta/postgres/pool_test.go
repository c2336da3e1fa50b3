package postgres

import (
	"strings"
	"testing"
)

func TestPoolSizeDefaultsAndURLOverrides(t *testing.T) {
	cfg, err := poolConfig("postgres://u@127.0.0.1:5432/db?search_path=s")
	if err != nil {
		t.Fatal(err)
	}
	if want := defaultMaxConns(); cfg.MaxConns != want || want < 16 || want > 32 {
		t.Errorf("MaxConns = %d, want %d (16 to 32)", cfg.MaxConns, want)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		t.Error("no connect timeout by default")
	}
	for _, u := range []string{"postgres://u@127.0.0.1:5432/db?pool_max_conns=3", "host=127.0.0.1 user=u pool_max_conns = 3"} {
		cfg, err = poolConfig(u)
		if err != nil || cfg.MaxConns != 3 {
			t.Errorf("%s: MaxConns = %d, %v; want 3", u, cfg.MaxConns, err)
		}
	}
	if _, err := poolConfig("postgres://u:secret@[bad"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("a bad URL: %v; want an error without the password", err)
	}
}
