package validate

import (
	"errors"
	"strings"
	"testing"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestCheckPlatform(t *testing.T) {
	long := strings.Repeat("x", maxPlatformField+1)
	for _, c := range []struct {
		os, arch, variant string
		refused           string // "" accepted, else the field named
	}{
		{"linux", "arm64", "v8", ""},
		{strings.Repeat("x", maxPlatformField), "amd64", "", ""},
		{long, "amd64", "", "os"},
		{"linux", long, "", "architecture"},
		{"linux", "arm", long, "variant"},
	} {
		err := checkPlatform("image config", c.os, c.arch, c.variant)
		if c.refused == "" {
			if err != nil {
				t.Errorf("%d-byte os: %v", len(c.os), err)
			}
			continue
		}
		var e errcode.Error
		if !errors.As(err, &e) || e.Code != errcode.ErrorCodeManifestInvalid ||
			!strings.Contains(e.Message, "image config "+c.refused+" is 129 bytes") || strings.Contains(e.Message, long) {
			t.Errorf("long %s: %v, want MANIFEST_INVALID naming the field and its length, not its text", c.refused, err)
		}
	}
	if err := checkIndexPlatform(v1.Descriptor{}); err != nil {
		t.Errorf("an index entry without a platform: %v", err)
	}
	if err := checkIndexPlatform(v1.Descriptor{Platform: &v1.Platform{OS: long}}); err == nil {
		t.Error("an index entry with a long os was accepted")
	}
}
