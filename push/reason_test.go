package push

import (
	"strings"
	"testing"
)

func TestBoundReason(t *testing.T) {
	if r := boundReason("image has 3 vulnerabilities"); r != "image has 3 vulnerabilities" {
		t.Errorf("a short reason became %q", r)
	}
	long := strings.Repeat("a", maxRecordedReason-1) + "é" + strings.Repeat("'", 3<<20)
	r := boundReason(long)
	if want := strings.Repeat("a", maxRecordedReason-1) + "… (3147777 bytes)"; r != want {
		t.Errorf("a 3 MiB reason became %d bytes ending %q", len(r), r[max(0, len(r)-30):])
	}
}
