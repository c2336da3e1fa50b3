package cli

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/perseus-go/perseus/internal/sign"
	"github.com/perseus-go/perseus/server"
	"github.com/perseus-go/perseus/store/meta"
)

// embedded reports whether the server runs on the embedded default: SQLite
// and a local directory, one machine, one process. Only there does it make
// keys of its own (a signing key under --data, a development API key).
func (f serveFlags) embedded() bool {
	return strings.HasPrefix(f.db, "sqlite://") && strings.HasPrefix(f.blobs, "file://")
}

// signingKeys returns the signing keys given by --signing-key and
// --signing-key-file, the first of which signs; none when neither is given.
func (f serveFlags) signingKeys() ([]server.SigningKey, error) {
	bad := func(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }
	specs := append([]string(nil), f.signingKeyList...)
	from := func(i int) string { return "--signing-key" }
	if f.signingKeyFile != "" {
		b, err := os.ReadFile(f.signingKeyFile)
		if err != nil {
			return nil, bad("--signing-key-file %s: %v", f.signingKeyFile, err)
		}
		n := len(specs)
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
				specs = append(specs, l)
			}
		}
		from = func(i int) string {
			if i < n {
				return "--signing-key"
			}
			return "--signing-key-file " + f.signingKeyFile
		}
	}
	var keys []server.SigningKey
	for i, s := range specs {
		id, secret, ok := strings.Cut(s, "=")
		if !ok {
			return nil, bad("%s: a signing key is ID=SECRET (e.g. k2026=$(openssl rand -hex 32)), not a bare secret", from(i))
		}
		if sign.CheckID(id) != nil { // not echoed: it may be part of a secret
			return nil, bad("%s: a signing key is ID=SECRET, with an ID of 1 to 32 letters, digits or _", from(i))
		}
		if len(secret) < sign.MinSecret {
			return nil, bad("%s: signing key %q is %d bytes; it must be at least %d (e.g. openssl rand -hex 32)", from(i), id, len(secret), sign.MinSecret)
		}
		keys = append(keys, server.SigningKey{ID: id, Secret: []byte(secret)})
	}
	if _, err := sign.NewKeys(signKeys(keys)...); len(keys) > 0 && err != nil {
		return nil, bad("%s: %v", from(0), err)
	}
	return keys, nil
}

func signKeys(keys []server.SigningKey) []sign.Key {
	out := make([]sign.Key, len(keys))
	for i, k := range keys {
		out[i] = sign.Key{ID: k.ID, Secret: k.Secret}
	}
	return out
}

// errNoSigningKey says why a server off the embedded default will not start
// without a signing key, and how to give it one.
var errNoSigningKey = usageError{errors.New("--signing-key is required off the embedded default (--db postgres://… or --blobs s3://…): every replica must sign upload URLs and multipart uploads with the same key; give ID=SECRET, e.g. --signing-key k1=$(openssl rand -hex 32), or PERSEUS_SIGNING_KEY, or --signing-key-file")}

// apiKeys returns the static keys the server accepts, and whether it made
// or read a development key. Only on the embedded default, and only when
// no key exists at all (none given, none in the store), does it make one;
// anywhere else a server without any key is an error that says how to
// create one.
func (f serveFlags) apiKeys(ctx context.Context, m meta.Store, stderr io.Writer) (map[string]string, error) {
	keys := map[string]string{}
	for _, k := range f.apiKeyList {
		keys[k] = "default"
	}
	if len(keys) > 0 {
		return keys, nil
	}
	devPath := filepath.Join(f.data, "dev-api-key")
	stored, err := m.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("--db: list API keys: %w", err)
	}
	for _, k := range stored {
		if k.RevokedAt == nil { // keys made with perseus keys create: a development key is no longer accepted
			if _, err := os.Stat(devPath); err == nil && f.embedded() {
				fmt.Fprintf(stderr, "perseus: API keys exist in the store, so the development key in %s is no longer accepted (remove the file)\n", devPath)
			}
			return keys, nil
		}
	}
	if f.embedded() {
		if b, err := os.ReadFile(devPath); err == nil && strings.TrimSpace(string(b)) != "" {
			keys[strings.TrimSpace(string(b))] = "default" // made by an earlier start
			fmt.Fprintf(stderr, "perseus: development API key (tenant default, kept in %s):\n  export LETTRIA_API_KEY=%s\n", devPath, strings.TrimSpace(string(b)))
			return keys, nil
		}
	}
	if !f.embedded() {
		return nil, usageError{fmt.Errorf("no API key: none is given and the metadata store (--db %s) has none: create one with 'perseus keys create --tenant NAME --db …' (or give --api-key); a development key is made only on the embedded default", f.redactedDB())}
	}
	dev, err := secretFile(devPath, 24)
	if err != nil {
		return nil, err
	}
	keys[string(dev)] = "default"
	fmt.Fprintf(stderr, "perseus: development API key (tenant default, kept in %s):\n  export LETTRIA_API_KEY=%s\n", devPath, dev)
	return keys, nil
}

// secretFile returns the secret kept in path, creating it with n random bytes
// (hex) on first use, readable by the owner only.
func secretFile(path string, n int) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return []byte(s), nil
		}
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	raw := make([]byte, n)
	rand.Read(raw)
	secret := []byte(hex.EncodeToString(raw))
	if err := os.WriteFile(path, append(secret, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return secret, nil
}
