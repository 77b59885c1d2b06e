package registry

import (
	"fmt"
	"io"
	"time"

	"github.com/distribution/distribution/v3/configuration"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/gc"
	"github.com/imagegate/imagegate/policy"
	"github.com/imagegate/imagegate/scan"
)

// Option adjusts a Server beyond what its configuration says.
type Option func(*options)

type options struct {
	scanner scan.Scanner
	fleet   fleet.Store // registry/fleet.go
	// startTasks run in New on one replica at a time (registry/singleton.go).
	startTasks []startTask
	// emfOut receives the log.emf lines (registry/emf.go); nil: stdout.
	emfOut io.Writer
	// retentionNow is retention's clock (registry/retention.go); nil: the wall clock.
	retentionNow func() time.Time
	// pullNow is pull tracking's clock (registry/pulls.go); nil: the wall clock.
	pullNow func() time.Time
	// gcNow is garbage collection's clock (registry/gc.go); gcHooks sees
	// its collector and fence (tests).
	gcNow   func() time.Time
	gcHooks func(*gc.Collector, *gc.Fence)
	// gcCallTimeout and gcBlobTouchTimeout replace the fence's bounds
	// (WithGCFenceTimeouts); 0: gc's defaults.
	gcCallTimeout, gcBlobTouchTimeout time.Duration
	// certNow is the TLS certificate reloads' clock (registry/tls.go); nil: the wall clock.
	certNow func() time.Time
	// storageMiddleware wraps the storage driver, distribution's App's
	// and imagegate's (registry/storagedriver.go).
	storageMiddleware []configuration.Middleware
}

// WithScanner gives the gate its vulnerability scanner. The caller opens
// it (cmd/imagegate opens Trivy) and closes it after the server stopped;
// keeping the scanner out of this package keeps Trivy out of its tests.
func WithScanner(s scan.Scanner) Option { return func(o *options) { o.scanner = s } }

// newPolicies compiles the scan policies of c. A rule with mode off
// needs no severity (config.Validate accepts it without one): it never
// compares one.
func newPolicies(c config.Scan) (*policy.Set, error) {
	var rules []policy.Rule
	for i, p := range c.Policies {
		sev := scan.SeverityUnknown
		if p.Mode != string(policy.Off) || p.Severity != "" {
			var err error
			if sev, err = scan.ParseSeverity(p.Severity); err != nil {
				return nil, fmt.Errorf("registry: scan.policies[%d].severity: %w", i, err)
			}
		}
		r := policy.Rule{Repositories: p.Repositories, Mode: policy.Mode(p.Mode), Severity: sev,
			IgnoreUnfixed: p.IgnoreUnfixed, OnError: policy.OnError(p.OnError)}
		for _, e := range p.Allowlist {
			exp, err := config.ParseExpiry(e.Expires)
			if err != nil {
				return nil, fmt.Errorf("registry: scan.policies[%d]: %w", i, err)
			}
			r.Allowlist = append(r.Allowlist, policy.Exception{ID: e.ID, Reason: e.Reason, Expires: exp})
		}
		rules = append(rules, r)
	}
	return policy.NewSet(rules)
}

// ScanningConfigured reports whether any policy of c scans, that is
// whether the server needs a scanner.
func ScanningConfigured(c config.Scan) bool {
	for _, p := range c.Policies {
		if p.Mode != string(policy.Off) {
			return true
		}
	}
	return false
}
