package registry

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/awsmetrics"
	"github.com/imagegate/imagegate/push"
	"github.com/imagegate/imagegate/scan"
)

// gateMetrics are the metrics of the gate's parts, all on the server's
// registry (served with distribution's on debug.addr /metrics): pushes
// and their stages, tarball uploads, and the TLS certificate's expiry.
// The scanner's are added by scan.Metered, notifications' by notify, auth's
// by auth; S3's and DynamoDB's are on the default registry
// (internal/awsmetrics).
type gateMetrics struct {
	push    *push.Metrics
	uploads *uploadMetrics
}

func newGateMetrics(cfg *config.Config, reg prometheus.Registerer) (*gateMetrics, error) {
	pm, err := push.NewMetrics(reg, cfg.Metrics.Repositories)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	for _, c := range awsmetrics.Collectors() {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registry: registering metrics: %w", err)
		}
	}
	if cfg.HTTP.TLS.Certificate != "" {
		if err := registerCertExpiry(reg, cfg.HTTP.TLS.Certificate); err != nil {
			return nil, err
		}
	}
	return &gateMetrics{push: pm, uploads: newUploadMetrics(reg)}, nil
}

// meteredScanner counts and times s's scans and exports its DB state
// (nil stays nil).
func meteredScanner(s scan.Scanner, cfg *config.Config, reg prometheus.Registerer) (scan.Scanner, error) {
	if s == nil {
		return nil, nil
	}
	m, err := scan.Metered(s, reg, cfg.Scan.MaxDBAge)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	return m, nil
}

// registerCertExpiry exports the NotAfter of the certificate the public
// listener serves (the first of file, read now as ServeTLS will read it)
// as imagegate_tls_certificate_expiry_timestamp_seconds. A certificate
// renewed on disk is served, and reported, after a restart.
func registerCertExpiry(reg prometheus.Registerer, file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("registry: reading http.tls.certificate: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return fmt.Errorf("registry: http.tls.certificate %s holds no PEM certificate", file)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("registry: parsing http.tls.certificate %s: %w", file, err)
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "imagegate", Subsystem: "tls", Name: "certificate_expiry_timestamp_seconds",
		Help: "When the served TLS certificate (http.tls.certificate, as loaded at start) expires, in Unix seconds."})
	g.Set(float64(cert.NotAfter.Unix()))
	if err := reg.Register(g); err != nil {
		return fmt.Errorf("registry: registering metrics: %w", err)
	}
	return nil
}
