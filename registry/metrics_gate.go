package registry

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/awsmetrics"
	"github.com/imagegate/imagegate/push"
	"github.com/imagegate/imagegate/scan"
)

// gateMetrics are the metrics of the gate's parts, all on the server's
// registry (served with distribution's on debug.addr /metrics): pushes
// and their stages, tarball uploads. The TLS certificate's are added by
// newCertReloader (registry/tls.go), the scanner's are added by scan.Metered, notifications' by notify, auth's
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
