package push

import (
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/validate"
)

// Push is one manifest on its way through the pipeline. A door fills in
// the request fields; the stages fill in the rest, each once, in order.
type Push struct {
	// Repository is where the manifest goes.
	Repository string
	// MediaType is the manifest's media type as the client declared it
	// (the Content-Type of a PUT).
	MediaType string
	// Payload is the manifest, exactly as sent.
	Payload []byte
	// Digest, when the client addressed the manifest by digest, is that
	// digest (any algorithm); the door has checked it matches Payload.
	// Empty for a push by tag.
	Digest digest.Digest
	// Tags are pointed at the manifest once it is stored.
	Tags []string
	// Source is the door it came through.
	Source metadata.Source
	// Requester is who sent it, for the record.
	Requester Requester
	// Override is the reason an administrator gave to move immutable
	// tags (lifecycle.OverrideHeader); honoured only when Requester.Admin.
	Override string
	// Archive is the original tarball of an upload, when kept.
	Archive *metadata.Archive
	// Observer, when set, follows the push's stages (upload progress).
	Observer Observer

	// Filled by the stages.
	canonical digest.Digest         // sha256 of Payload: what storage files it under
	manifest  distribution.Manifest // Payload, parsed once by distribution
	result    *validate.Result      // what validation learnt
	record    *metadata.Record      // the push's record
	repo      distribution.Repository
	stored    bool // storing it created the manifest (a failed commit deletes it)
	moved     []movedTag
	began     time.Time // when it entered the gate (metrics)
}

// movedTag is a tag the commit pointed at the manifest, and what it named
// before (zero: nothing), so that a failed commit can put it back.
type movedTag struct {
	tag  string
	prev v1.Descriptor
}

// Record is the push's record once the gate has described it: pending,
// rejected, accepted or failed, as it was last written. Nil before.
func (x *Push) Record() *metadata.Record { return x.record }

// CanonicalDigest is the sha256 digest of the payload.
func (x *Push) CanonicalDigest() digest.Digest { return x.canonical }

// tagDigest is the digest tags name: the one the client pushed by, so that
// pulls by tag answer with it; the canonical digest for a push by tag.
func (x *Push) tagDigest() digest.Digest {
	if x.Digest != "" {
		return x.Digest
	}
	return x.canonical
}

// subject is the digest of the manifest's subject, as validation decoded
// it (no payload is decoded again).
func (x *Push) subject() (digest.Digest, bool) {
	if x.result == nil || x.result.Shape.Subject == nil || x.result.Shape.Subject.Digest == "" {
		return "", false
	}
	return x.result.Shape.Subject.Digest, true
}

// aliased reports whether the client's digest is not the canonical one
// (sha512): storage links it to the canonical digest.
func (x *Push) aliased() bool { return x.Digest != "" && x.Digest != x.canonical }

// Gate stages an Observer is told about, in order.
const (
	StageValidating = "validating"
	StageAnalyzing  = "analyzing"
	StageScanning   = "scanning"
	StageStoring    = "storing"
	StageRecording  = "recording"
)

// Observer follows one push through the pipeline (the upload shim reports
// it as progress). Its methods are called synchronously and must return
// quickly.
type Observer interface {
	// Stage is called as the push enters a stage (Stage* constants).
	Stage(name string)
	// Recorded is called each time the push's record is written:
	// rejected, or pending then accepted or failed.
	Recorded(rec metadata.Record)
}

func (x *Push) stage(name string) {
	if x.Observer != nil {
		x.Observer.Stage(name)
	}
}

func (x *Push) recorded() {
	if x.Observer != nil && x.record != nil {
		x.Observer.Recorded(*x.record)
	}
}
