package config

import (
	"net/url"
	"time"
)

// ScanPool configures scanning in separate scanner processes (`imagegate
// scanner`, docs/scanning.md) instead of in the registry process. The
// registry side reads URLs, Secret, Attempts, Timeout and StatusTimeout;
// a scanner reads Addr, TLS, Secret, Queue and QueueWait, and the rest of
// scan (cachedir, dbrepository, workers, timeout…) for its Trivy engine.
type ScanPool struct {
	// URLs are the scanners' base URLs, or one load balancer's. Empty: the
	// registry scans in-process with Trivy.
	URLs []string `yaml:"urls"`
	// Secret authenticates the registry to its scanners (a bearer token,
	// compared in constant time); at least 32 characters, the same on both
	// sides. Required when URLs is set and by `imagegate scanner`.
	Secret Secret `yaml:"secret"`
	// Attempts is how many scanners one scan tries when the first is busy
	// or unreachable; 0: each URL once. Behind one load balancer URL, set
	// it above 1.
	Attempts int `yaml:"attempts"`
	// Timeout bounds one scan request; 0: scan.timeout.
	Timeout time.Duration `yaml:"timeout"`
	// StatusTimeout bounds one scanner status request (readiness).
	StatusTimeout time.Duration `yaml:"statustimeout"`
	// Addr is where `imagegate scanner` listens.
	Addr string `yaml:"addr"`
	// TLS serves the scanner over HTTPS when both files are set.
	TLS TLS `yaml:"tls"`
	// Queue bounds the scans waiting for one of a scanner's scan.workers;
	// beyond it the scanner answers busy (429) at once and the registry
	// tries the next scanner.
	Queue int `yaml:"queue"`
	// QueueWait bounds how long a queued scan waits for a worker.
	QueueWait time.Duration `yaml:"queuewait"`
	// DetachAfter, when set, answers a push whose scan still runs after
	// this long with 429 "scan … still running; retry the push" while the
	// scan goes on; the retried push gets its verdict (scan/detach). Keep
	// it below the load balancer's timeout. Applies to in-process scans
	// too. 0: a push waits for its scan up to scan.timeout.
	DetachAfter time.Duration `yaml:"detachafter"`
}

// minScanPoolSecret is the shortest scan.pool.secret accepted.
const minScanPoolSecret = 32

// defaultScanPool is Default's scan.pool section: no pool (scans run
// in-process).
func defaultScanPool() ScanPool {
	return ScanPool{
		URLs:          []string{},
		StatusTimeout: 2 * time.Second,
		Addr:          "127.0.0.1:5003",
		Queue:         4,
		QueueWait:     10 * time.Second,
	}
}

// validate reports the invalid values of the scan.pool section through bad.
// scanTimeout is scan.timeout, which DetachAfter must stay below.
func (p ScanPool) validate(scanTimeout time.Duration, bad func(key, format string, args ...any)) {
	for _, raw := range p.URLs {
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("scan.pool.urls", "must be absolute http or https URLs such as http://scanner:5003, got %q", raw)
		}
	}
	switch {
	case len(p.URLs) > 0 && p.Secret == "":
		bad("scan.pool.secret", "must be set when scan.pool.urls is: the scanners refuse requests without it")
	case p.Secret != "" && len(p.Secret) < minScanPoolSecret:
		bad("scan.pool.secret", "must be at least %d characters, got %d", minScanPoolSecret, len(p.Secret))
	}
	if p.Attempts < 0 {
		bad("scan.pool.attempts", "must not be negative, got %d", p.Attempts)
	}
	if p.Timeout < 0 {
		bad("scan.pool.timeout", "must not be negative, got %s", p.Timeout)
	}
	if p.StatusTimeout <= 0 {
		bad("scan.pool.statustimeout", "must be a positive duration such as 2s")
	}
	if err := checkAddr(p.Addr); err != nil {
		bad("scan.pool.addr", "%v", err)
	}
	if (p.TLS.Certificate == "") != (p.TLS.Key == "") {
		bad("scan.pool.tls", "certificate and key must be set together")
	}
	if p.Queue < 0 {
		bad("scan.pool.queue", "must not be negative, got %d", p.Queue)
	}
	if p.QueueWait <= 0 {
		bad("scan.pool.queuewait", "must be a positive duration such as 10s")
	}
	if p.DetachAfter < 0 || (p.DetachAfter > 0 && p.DetachAfter >= scanTimeout) {
		bad("scan.pool.detachafter", "must be 0 (off) or below scan.timeout (%s), got %s", scanTimeout, p.DetachAfter)
	}
}
