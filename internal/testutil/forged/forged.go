// Package forged makes manifests no honest client would push — an image's
// manifest with its JSON edited — and pushes them byte for byte, for the
// tests that attack the gate (test/gate), the runtime behind it
// (test/docker) and the pages that show what was pushed (test/ui).
package forged

import (
	"bytes"
	"encoding/json"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Edit returns img's manifest with edit applied to its decoded JSON,
// encoded again.
func Edit(t testing.TB, img v1.Image, edit func(m map[string]any)) []byte {
	t.Helper()
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Manifest is a manifest as bytes, pushed as given with remote.Put under
// Type (the Content-Type of the PUT).
type Manifest struct {
	Body []byte
	Type types.MediaType
}

// RawManifest implements remote.Taggable.
func (m Manifest) RawManifest() ([]byte, error) { return m.Body, nil }

// MediaType is Type: what remote.Put sends as the Content-Type.
func (m Manifest) MediaType() (types.MediaType, error) { return m.Type, nil }

// Digest is the sha256 of Body.
func (m Manifest) Digest() (v1.Hash, error) {
	h, _, err := v1.SHA256(bytes.NewReader(m.Body))
	return h, err
}

// Size is Body's length.
func (m Manifest) Size() (int64, error) { return int64(len(m.Body)), nil }
