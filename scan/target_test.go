package scan_test

import (
	"errors"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imagegate/imagegate/scan"
	"github.com/imagegate/imagegate/scan/scantest"
)

func TestTargetValidate(t *testing.T) {
	for name, img := range map[string]func(testing.TB) v1.Image{
		"oci":    func(t testing.TB) v1.Image { return scantest.VulnerableImage(t) },
		"docker": func(t testing.TB) v1.Image { return scantest.AsDocker(t, scantest.VulnerableImage(t)) },
	} {
		target := scantest.NewBlobs().Target(t, "team/app", img(t))
		if err := target.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", name, err)
		}
	}
	target := scantest.NewBlobs().Target(t, "team/app", scantest.VulnerableImage(t))
	target.MediaType = "application/vnd.docker.distribution.manifest.list.v2+json"
	if err := target.Validate(); !errors.Is(err, scan.ErrInvalidTarget) {
		t.Errorf("index: err = %v, want ErrInvalidTarget", err)
	}
}

func TestStatusErr(t *testing.T) {
	if err := (scan.Status{Ready: true}).Err(); err != nil {
		t.Errorf("ready status: Err = %v", err)
	}
	err := scan.Status{Error: "download failed"}.Err()
	if !errors.Is(err, scan.ErrNoDB) || err.Error() != "scan: no vulnerability database loaded: download failed" {
		t.Errorf("Err = %v", err)
	}
}
