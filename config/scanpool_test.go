package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestScanPool(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		name    string
		yaml    string
		env     []string
		wantErr []string // nil: valid
	}{
		{"pool", "scan:\n  pool:\n    urls: [http://scanner-1:5003, https://scanner-2]\n    secret: " + secret + "\n", nil, nil},
		{"pool by environment", "", []string{"IMAGEGATE_SCAN_POOL_URLS=http://lb:5003", "IMAGEGATE_SCAN_POOL_SECRET=" + secret, "IMAGEGATE_SCAN_POOL_ATTEMPTS=3"}, nil},
		{"urls without secret", "scan:\n  pool:\n    urls: [http://scanner:5003]\n", nil, []string{"scan.pool.secret: must be set when scan.pool.urls is"}},
		{"short secret", "scan:\n  pool:\n    secret: short\n", nil, []string{"scan.pool.secret: must be at least 32 characters, got 5"}},
		{"bad url", "scan:\n  pool:\n    urls: [scanner:5003]\n    secret: " + secret + "\n", nil, []string{`scan.pool.urls: must be absolute http or https URLs such as http://scanner:5003, got "scanner:5003"`}},
		{"bad numbers", "scan:\n  pool:\n    attempts: -1\n    queue: -1\n    queuewait: 0s\n    statustimeout: 0s\n    timeout: -1s\n", nil,
			[]string{"scan.pool.attempts", "scan.pool.queue:", "scan.pool.queuewait", "scan.pool.statustimeout", "scan.pool.timeout"}},
		{"detach after the scan timeout", "scan:\n  timeout: 1m\n  pool:\n    detachafter: 2m\n", nil, []string{"scan.pool.detachafter: must be 0 (off) or below scan.timeout (1m0s), got 2m0s"}},
		{"bad addr", "scan:\n  pool:\n    addr: scanner\n", nil, []string{"scan.pool.addr: must be host:port"}},
		{"tls half set", "scan:\n  pool:\n    tls:\n      key: k.pem\n", nil, []string{"scan.pool.tls: certificate and key must be set together"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(path, tc.env)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if len(cfg.Scan.Pool.URLs) == 0 || cfg.Scan.Pool.Secret.Reveal() != secret {
					t.Errorf("pool = %+v, want URLs and the secret", cfg.Scan.Pool)
				}
				return
			}
			for _, want := range tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("Load: err = %v, want it to contain %q", err, want)
				}
			}
		})
	}
}
