package notify

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/metadata"
)

// Type is a CloudEvents type attribute. Endpoints filter on the short
// name (the part after TypePrefix), e.g. "push.accepted".
type Type string

// TypePrefix starts every event type imagegate emits.
const TypePrefix = "io.imagegate."

// The event types.
const (
	// PushAccepted: a manifest passed the gate and is stored (and tagged).
	PushAccepted Type = TypePrefix + "push.accepted"
	// PushRejected: the gate refused a manifest (validation, scan policy, index children).
	PushRejected Type = TypePrefix + "push.rejected"
	// PushFailed: the gate let a manifest through but storing or tagging it failed.
	PushFailed Type = TypePrefix + "push.failed"
	// ScanCompleted: a vulnerability scan finished (or failed) for a push or a rescan.
	ScanCompleted Type = TypePrefix + "scan.completed"
	// UploadFailed: a tarball upload (POST /upload-image) failed before or in the gate.
	UploadFailed Type = TypePrefix + "upload.failed"
	// DeleteAccepted: a manifest or tag was deleted.
	DeleteAccepted Type = TypePrefix + "delete.accepted"
)

// Types lists every event type, for validation and documentation (the
// security ones are in security.go).
var Types = append([]Type{PushAccepted, PushRejected, PushFailed, ScanCompleted, UploadFailed, DeleteAccepted, QuotaWarning},
	SecurityTypes...)

// Short returns t without TypePrefix ("push.accepted").
func (t Type) Short() string { return string(t)[len(TypePrefix):] }

// ParseType accepts a short name ("push.accepted") or a full type.
func ParseType(s string) (Type, error) {
	for _, t := range Types {
		if s == t.Short() || s == string(t) {
			return t, nil
		}
	}
	return "", fmt.Errorf("unknown event type %q", s)
}

// Event is a CloudEvents 1.0 event in structured JSON mode: what a
// webhook receives as its request body.
type Event struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            Type      `json:"type"`
	Subject         string    `json:"subject,omitempty"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	Data            Data      `json:"data"`
}

// Data is the payload of every imagegate event; fields that do not apply
// to an event type are omitted.
type Data struct {
	// RecordID is the metadata record (GET /api/v1/pushes/{id}); empty for
	// rescans and for uploads that failed before reaching the gate.
	RecordID   string              `json:"record_id,omitempty"`
	Kind       metadata.Kind       `json:"kind,omitempty"`
	Status     metadata.Status     `json:"status,omitempty"`
	Repository string              `json:"repository,omitempty"`
	Digest     digest.Digest       `json:"digest,omitempty"`
	MediaType  string              `json:"media_type,omitempty"`
	Tags       []string            `json:"tags,omitempty"`
	Size       int64               `json:"size,omitempty"`
	Platforms  []metadata.Platform `json:"platforms,omitempty"`
	User       *User               `json:"user,omitempty"`
	Source     metadata.Source     `json:"source,omitempty"`
	RequestID  string              `json:"request_id,omitempty"`
	UploadID   string              `json:"upload_id,omitempty"`
	Reason     string              `json:"reason,omitempty"`
	Scan       *Scan               `json:"scan,omitempty"`
	// Security describes a detected incident (security.* events only).
	Security *Security `json:"security,omitempty"`
	// Quota describes a namespace's usage (quota.warning events only).
	Quota *Quota `json:"quota,omitempty"`
}

// User is who caused the event.
type User struct {
	Subject string `json:"subject"`
	Method  string `json:"method,omitempty"`
}

// Scan summarises a scan: counts per severity and the policy's verdict.
// The findings themselves are in the record.
type Scan struct {
	Scanner   string         `json:"scanner"`
	DBVersion string         `json:"db_version,omitempty"`
	ScannedAt time.Time      `json:"scanned_at"`
	Counts    map[string]int `json:"counts,omitempty"`
	Policy    string         `json:"policy,omitempty"`
	Verdict   string         `json:"verdict,omitempty"`
	Error     string         `json:"error,omitempty"`
}

// UploadFailure describes a tarball upload that failed. Fields that are
// not known yet (the repository before the tarball was read) stay empty.
type UploadFailure struct {
	UploadID   string
	Repository string
	Tags       []string
	// Size is the bytes received before the failure.
	Size      int64
	User      metadata.User
	RequestID string
	// Reason is the message the client received.
	Reason string
	// RecordID is set when the failure is the gate's refusal of a manifest
	// (that refusal also produces push.rejected).
	RecordID string
}

// typeOf is the event a final record produces, or "" for none.
func typeOf(rec *metadata.Record) Type {
	switch {
	case rec.Kind == metadata.KindPush && rec.Status == metadata.StatusAccepted:
		return PushAccepted
	case rec.Kind == metadata.KindPush && rec.Status == metadata.StatusRejected:
		return PushRejected
	case rec.Kind == metadata.KindPush && rec.Status == metadata.StatusFailed:
		return PushFailed
	case rec.Kind != metadata.KindPush && rec.Status == metadata.StatusAccepted:
		return DeleteAccepted
	}
	return ""
}

// dataOf is the payload describing rec.
func dataOf(rec *metadata.Record) Data {
	d := Data{
		RecordID: rec.ID, Kind: rec.Kind, Status: rec.Status, Repository: rec.Repository, Digest: rec.Digest,
		MediaType: rec.MediaType, Tags: rec.Tags, Size: rec.Size, Platforms: rec.Platforms,
		Source: rec.Source, RequestID: rec.RequestID, Reason: rec.Reason, Scan: scanOf(rec.Scan),
	}
	if rec.User.Subject != "" || rec.User.Method != "" {
		d.User = &User{Subject: rec.User.Subject, Method: rec.User.Method}
	}
	return d
}

func scanOf(s *metadata.ScanSummary) *Scan {
	if s == nil {
		return nil
	}
	return &Scan{Scanner: s.Scanner, DBVersion: s.DBVersion, ScannedAt: s.ScannedAt, Counts: s.Counts,
		Policy: s.PolicyName, Verdict: s.Verdict, Error: s.Error}
}

// subjectOf names what an event is about: repository@digest, or the
// repository alone when the digest is unknown.
func subjectOf(repository string, d digest.Digest) string {
	if d == "" {
		return repository
	}
	return repository + "@" + d.String()
}

// encode serialises e as the request body.
func (e *Event) encode() ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("notify: encoding event %s: %w", e.ID, err)
	}
	return b, nil
}
