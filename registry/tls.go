package registry

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/certreload"
)

// WithCertClock makes the public listener's certificate reloads read
// now() instead of the wall clock (tests rotate the files and move it
// past the reload interval instead of sleeping).
func WithCertClock(now func() time.Time) Option {
	return func(o *options) { o.certNow = now }
}

// newCertReloader loads http.tls's pair (nil when TLS is off) and exports
// imagegate_tls_certificate_expiry_timestamp_seconds and
// imagegate_tls_certificate_reloads_total. The pair is read again when
// its files change (looked at at most every certreload.DefaultInterval),
// so a renewal (cert-manager) is served without a restart; a pair that
// fails to load is logged and counted, and the previous one stays.
func newCertReloader(c config.TLS, reg prometheus.Registerer, logger *slog.Logger, now func() time.Time) (*certreload.Reloader, error) {
	if c.Certificate == "" {
		return nil, nil
	}
	r, err := certreload.New(c.Certificate, c.Key, certreload.Options{Now: now, Logger: logger, Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("registry: http.tls: %w", err)
	}
	return r, nil
}

// tlsConfig is the public listener's TLS configuration: TLS 1.2 at
// least, the certificate from certs (nil: no TLS; unused).
func tlsConfig(certs *certreload.Reloader) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if certs != nil {
		cfg.GetCertificate = certs.GetCertificate
	}
	return cfg
}
