package postgres

import (
	"runtime"
	"strings"
	"testing"
)

func TestPoolSizeDefaultsAndURLOverrides(t *testing.T) {
	cfg, err := poolConfig("postgres://u@127.0.0.1:5432/db?search_path=s")
	if err != nil {
		t.Fatal(err)
	}
	if want := max(defaultMaxConns, 4*int32(runtime.NumCPU())); cfg.MaxConns != want {
		t.Errorf("MaxConns = %d, want %d", cfg.MaxConns, want)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		t.Error("no connect timeout by default")
	}
	cfg, err = poolConfig("postgres://u@127.0.0.1:5432/db?pool_max_conns=3")
	if err != nil || cfg.MaxConns != 3 {
		t.Errorf("with pool_max_conns=3: MaxConns = %d, %v", cfg.MaxConns, err)
	}
	if _, err := poolConfig("postgres://u:secret@[bad"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("a bad URL: %v; want an error without the password", err)
	}
}
