// Package metadata keeps one record per push attempt (accepted or
// rejected) and per tag or manifest deletion: who pushed what, where it is
// stored, and what the gate decided. Store is the interface; bolt (the
// embedded default), dynamodb and sqlstore (PostgreSQL, MySQL) implement
// it, and storetest holds the one contract suite they all pass.
package metadata

import (
	"time"

	"github.com/opencontainers/go-digest"
)

// Kind says what a record records.
type Kind string

const (
	// KindPush is a manifest PUT, accepted or rejected.
	KindPush Kind = "push"
	// KindDeleteManifest is a DELETE of a manifest by digest.
	KindDeleteManifest Kind = "delete-manifest"
	// KindDeleteTag is a DELETE of a tag.
	KindDeleteTag Kind = "delete-tag"
)

// Status is where a record stands.
type Status string

const (
	// StatusPending: the gate let the push through and storing it began;
	// a record left pending means the outcome is unknown (crash mid-push).
	StatusPending Status = "pending"
	// StatusAccepted: stored, tagged and answered with success.
	StatusAccepted Status = "accepted"
	// StatusRejected: the gate refused the push; nothing was tagged.
	StatusRejected Status = "rejected"
	// StatusFailed: the gate let it through but storing it failed.
	StatusFailed Status = "failed"
)

// Source is the door a push came through.
type Source string

const (
	SourceDockerPush Source = "docker-push"
	SourceTarUpload  Source = "tar-upload"
)

// Record is one push attempt or deletion. IDs are time-ordered (UUIDv7),
// so ordering by ID is ordering by the time the request was received.
type Record struct {
	ID           string        `json:"id"`
	Kind         Kind          `json:"kind"`
	Repository   string        `json:"repository"`
	Tags         []string      `json:"tags,omitempty"`
	TagMoves     []TagMove     `json:"tag_moves,omitempty"`
	Digest       digest.Digest `json:"digest"`
	MediaType    string        `json:"media_type,omitempty"`
	ArtifactType string        `json:"artifact_type,omitempty"`
	Platforms    []Platform    `json:"platforms,omitempty"`
	// Size is manifest + config + layers, in bytes.
	Size       int64  `json:"size"`
	LayerCount int    `json:"layer_count"`
	Config     *Blob  `json:"config,omitempty"`
	Layers     []Blob `json:"layers,omitempty"`
	// Manifests are an index's children.
	Manifests []Blob `json:"manifests,omitempty"`

	ReceivedAt  time.Time  `json:"received_at"`
	CommittedAt *time.Time `json:"committed_at,omitempty"`

	User      User     `json:"user"`
	ClientIP  string   `json:"client_ip,omitempty"`
	UserAgent string   `json:"user_agent,omitempty"`
	RequestID string   `json:"request_id,omitempty"`
	Source    Source   `json:"source,omitempty"`
	Storage   Location `json:"storage"`
	// Archive is the original tarball of a tar upload, when upload.archive
	// keeps it; every record the upload produced names the same one.
	Archive *Archive `json:"archive,omitempty"`

	Status Status       `json:"status"`
	Reason string       `json:"reason,omitempty"`
	Scan   *ScanSummary `json:"scan,omitempty"`
	// Analysis is the layer analysis's outcome (metadata/analysis.go).
	Analysis *AnalysisSummary `json:"analysis,omitempty"`
	// Overrides are the lifecycle rules an administrator overrode in this
	// push or deletion, each a sentence naming the tag, the rule, the
	// digests and the reason given (docs/lifecycle.md).
	Overrides []string `json:"overrides,omitempty"`
}

// TagMove is a tag that pointed at another manifest before this push.
type TagMove struct {
	Tag  string        `json:"tag"`
	From digest.Digest `json:"from"`
}

// Blob is a content descriptor: digest, size and media type.
type Blob struct {
	Digest    digest.Digest `json:"digest"`
	Size      int64         `json:"size"`
	MediaType string        `json:"media_type,omitempty"`
}

// Platform is an image's OS and architecture.
type Platform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant,omitempty"`
}

// User is who made the request.
type User struct {
	// Subject is the authenticated name, "" for anonymous requests.
	Subject string `json:"subject"`
	// Method is how they authenticated: password, token, robot, oidc, anonymous.
	Method string   `json:"method,omitempty"`
	Roles  []string `json:"roles,omitempty"`
}

// Location says where the pushed content is stored: the manifest's object
// key and every blob's, under the driver's root (bucket or directory).
type Location struct {
	Driver      string            `json:"driver"`
	Bucket      string            `json:"bucket,omitempty"`
	Root        string            `json:"root,omitempty"`
	ManifestKey string            `json:"manifest_key,omitempty"`
	BlobKeys    map[string]string `json:"blob_keys,omitempty"`
}

// Archive is where the original tarball of an upload is kept: its object
// key (under the bucket, or under Storage.Root for the filesystem driver),
// and the size and sha256 of the bytes as received.
type Archive struct {
	Bucket string        `json:"bucket,omitempty"`
	Key    string        `json:"key"`
	Size   int64         `json:"size"`
	Digest digest.Digest `json:"digest"`
}

// ScanSummary is the vulnerability scan's outcome, filled in by the gate.
type ScanSummary struct {
	Scanner    string         `json:"scanner"`
	DBVersion  string         `json:"db_version,omitempty"`
	ScannedAt  time.Time      `json:"scanned_at"`
	Counts     map[string]int `json:"counts,omitempty"`
	Findings   []Finding      `json:"findings,omitempty"`
	Error      string         `json:"error,omitempty"`
	PolicyName string         `json:"policy,omitempty"`
	Verdict    string         `json:"verdict,omitempty"`
}

// Finding is one vulnerability found in a package.
type Finding struct {
	ID               string `json:"id"`
	Package          string `json:"package"`
	InstalledVersion string `json:"installed"`
	FixedVersion     string `json:"fixed,omitempty"`
	Severity         string `json:"severity"`
}
