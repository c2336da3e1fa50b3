package postgres

import "testing"

// TestLockKeyIsStable pins the key of a name: replicas of different
// versions, upgraded one by one, must lock a name under the same key.
func TestLockKeyIsStable(t *testing.T) {
	if got, want := lockKey("public", "upload-1"), int64(-290618521130367719); got != want {
		t.Fatalf("lockKey(public, upload-1) = %d, want %d: a changed key lets replicas of two versions hold one name at once", got, want)
	}
	if lockKey("public", "upload-1") == lockKey("other", "upload-1") {
		t.Fatal("stores in two schemas lock a name under one key")
	}
}

// TestLockPoolAsksForKeepalivesUnlessTheURLDoes checks the holders' pool:
// as many connections as the metadata pool, and keepalives set after
// connecting only when the URL does not set them.
func TestLockPoolAsksForKeepalivesUnlessTheURLDoes(t *testing.T) {
	cfg, err := poolConfig("postgres://u@127.0.0.1:5432/db?pool_max_conns=7")
	if err != nil {
		t.Fatal(err)
	}
	lc := lockPoolConfig(cfg)
	if lc.MaxConns != 7 || lc.AfterConnect == nil {
		t.Fatalf("lock pool: MaxConns %d, AfterConnect set %v; want 7, true", lc.MaxConns, lc.AfterConnect != nil)
	}
	if cfg.AfterConnect != nil {
		t.Fatal("lockPoolConfig changed the metadata pool's configuration")
	}
	cfg, err = poolConfig("postgres://u@127.0.0.1:5432/db?tcp_keepalives_idle=5&tcp_keepalives_interval=5&tcp_keepalives_count=2")
	if err != nil {
		t.Fatal(err)
	}
	if lc := lockPoolConfig(cfg); lc.AfterConnect != nil {
		t.Fatal("keepalives the URL sets are set again after connecting")
	}
}
