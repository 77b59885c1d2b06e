package oci

import (
	"encoding/json"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// manifestFields are the parts of an image manifest or index that make a
// referrer's descriptor.
type manifestFields struct {
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType"`
	Config       *v1.Descriptor    `json:"config"`
	Subject      *v1.Descriptor    `json:"subject"`
	Annotations  map[string]string `json:"annotations"`
}

// Subject returns the digest of the subject payload names, if any; a
// payload that does not parse has none.
func Subject(payload []byte) (digest.Digest, bool) {
	var m manifestFields
	if json.Unmarshal(payload, &m) != nil || m.Subject == nil || m.Subject.Digest == "" {
		return "", false
	}
	return m.Subject.Digest, true
}

// DescribeReferrer returns the descriptor the referrers API lists for the
// manifest payload of mediaType stored as dgst, and its subject; ok is false
// when the payload names no subject. The artifactType is the manifest's
// own, else its config's media type (as the spec says for image manifests).
func DescribeReferrer(mediaType string, payload []byte, dgst digest.Digest) (subject digest.Digest, desc v1.Descriptor, ok bool) {
	var m manifestFields
	if json.Unmarshal(payload, &m) != nil || m.Subject == nil || m.Subject.Digest == "" {
		return "", v1.Descriptor{}, false
	}
	if mediaType == "" {
		mediaType = m.MediaType
	}
	artifactType := m.ArtifactType
	if artifactType == "" && m.Config != nil && mediaType == v1.MediaTypeImageManifest {
		artifactType = m.Config.MediaType
	}
	return m.Subject.Digest, v1.Descriptor{
		MediaType:    mediaType,
		Digest:       dgst,
		Size:         int64(len(payload)),
		ArtifactType: artifactType,
		Annotations:  m.Annotations,
	}, true
}
