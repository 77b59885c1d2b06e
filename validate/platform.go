package validate

import (
	"fmt"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxPlatformField bounds a platform's os, architecture and variant, in
// bytes. Real values are GOOS/GOARCH words ("linux", "arm64", "v8"); the
// push record keeps them (its platforms), and every listing of records
// (the API's, the web UI's) carries them, so a config whose os was 7 MiB
// made each listing that named its push megabytes larger.
const maxPlatformField = 128

// checkPlatform refuses (MANIFEST_INVALID) a platform field over
// maxPlatformField bytes; where names it ("image config", "index entry
// sha256:…"). The message gives the field's length, never its text.
func checkPlatform(where, os, architecture, variant string) error {
	for _, f := range []struct{ name, value string }{{"os", os}, {"architecture", architecture}, {"variant", variant}} {
		if err := checkPlatformField(where, f.name, len(f.value)); err != nil {
			return err
		}
	}
	return nil
}

// checkPlatformField is checkPlatform for one field of n bytes.
func checkPlatformField(where, name string, n int) error {
	if n > maxPlatformField {
		return invalid(fmt.Sprintf("%s %s is %d bytes; at most %d are accepted", where, name, n, maxPlatformField),
			map[string]any{"field": name, "bytes": n, "max": maxPlatformField})
	}
	return nil
}

// checkIndexPlatform is checkPlatform for an index entry's platform, if
// it has one.
func checkIndexPlatform(c v1.Descriptor) error {
	if c.Platform == nil {
		return nil
	}
	return checkPlatform("index entry "+c.Digest.String()+" platform", c.Platform.OS, c.Platform.Architecture, c.Platform.Variant)
}
