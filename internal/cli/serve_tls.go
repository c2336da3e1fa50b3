package cli

import (
	"crypto/tls"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/perseus-go/perseus/internal/backend"
)

// certReloader holds the TLS certificate that new connections are served
// and replaces it, whole, when its files are read again: connections made
// before keep going with the one they began with.
type certReloader struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// loadCert reads the PEM certificate chain and private key in certFile and keyFile.
func loadCert(certFile, keyFile string) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile}
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	r.cur.Store(&c)
	return r, nil
}

// reload reads the pair again and serves it from now on; a pair that cannot
// be read or does not match leaves the current one in place.
func (r *certReloader) reload() error {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return err
	}
	r.cur.Store(&c)
	return nil
}

// tlsConfig serves the current certificate, over HTTP/2 or HTTP/1.1.
func (r *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return r.cur.Load(), nil },
	}
}

// attrs describe the current certificate for the log.
func (r *certReloader) attrs() []any {
	c := r.cur.Load()
	if c.Leaf == nil {
		return nil
	}
	attrs := []any{"cert_subject", c.Leaf.Subject.String(), "cert_not_after", c.Leaf.NotAfter.UTC().Format(time.RFC3339)}
	if time.Now().After(c.Leaf.NotAfter) {
		attrs = append(attrs, "cert_expired", true)
	}
	return attrs
}

// onSIGHUP calls fn on every SIGHUP, which would otherwise stop the
// process, until the returned stop is called.
func onSIGHUP(fn func()) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-hup:
				fn()
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
	}
}

// ignoreSIGHUP logs each SIGHUP as having nothing to reload.
func ignoreSIGHUP(logger *slog.Logger) (stop func()) {
	return onSIGHUP(func() { logger.Info("SIGHUP: nothing to reload (no --tls-cert)") })
}

// reloadOnSIGHUP reads the pair again on every SIGHUP, logging the outcome.
func (r *certReloader) reloadOnSIGHUP(logger *slog.Logger) (stop func()) {
	return onSIGHUP(func() {
		if err := r.reload(); err != nil {
			logger.Error("TLS certificate not reloaded: keeping the current one",
				"tls_cert", r.certFile, "tls_key", r.keyFile, "err", backend.OneLine(err))
			return
		}
		logger.Info("TLS certificate reloaded", r.attrs()...)
	})
}
