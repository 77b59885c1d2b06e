package validate

import (
	"strings"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestLayerURLQuotedBounded: a refused layer url of 3 MiB is quoted by
// its first 128 bytes and its length, in the message and the detail.
func TestLayerURLQuotedBounded(t *testing.T) {
	err := checkLayerURLs(v1.Descriptor{URLs: []string{"javascript:" + strings.Repeat("'", 3<<20)}})
	if err == nil || len(err.Error()) > 1024 || !strings.Contains(err.Error(), `"javascript:''`) || !strings.Contains(err.Error(), "… (3145739 bytes)") {
		t.Errorf("refusal of %d bytes: %.200v", len(err.Error()), err)
	}
	if err := checkLayerURLs(v1.Descriptor{URLs: []string{"ftp://x"}}); err == nil || !strings.Contains(err.Error(), `url "ftp://x";`) {
		t.Errorf("a short url: %v, want it quoted whole", err)
	}
}
