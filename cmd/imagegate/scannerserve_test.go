package main

import (
	"strings"
	"testing"
)

func TestScannerNeedsTheSharedSecret(t *testing.T) {
	_, err := runCLI(t, []string{"IMAGEGATE_SCAN_CACHEDIR=" + t.TempDir()}, "scanner")
	if err == nil || !strings.Contains(err.Error(), "scan.pool.secret must be set") {
		t.Fatalf("scanner without scan.pool.secret: err = %v", err)
	}
}
