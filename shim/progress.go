package shim

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/metadata"
)

// Stages of an upload, in order; done and failed end it.
const (
	StageReceiving  = "receiving"
	StageValidating = "validating"
	StageAnalyzing  = "analyzing"
	StageScanning   = "scanning"
	StageStoring    = "storing"
	StageRecording  = "recording"
	StageDone       = "done"
	StageFailed     = "failed"
)

// Status is an upload's progress as GET /api/v1/uploads/{id} shows it.
type Status struct {
	ID            string        `json:"id"`
	Stage         string        `json:"stage"`
	BytesReceived int64         `json:"bytes_received"`
	BytesExpected int64         `json:"bytes_expected"`
	Stages        []StageTiming `json:"stages"`
	Error         *StatusError  `json:"error,omitempty"`
	Images        []Image       `json:"images,omitempty"`
}

// StageTiming is when a stage started and how long it took (so far).
type StageTiming struct {
	Name       string    `json:"name"`
	Started    time.Time `json:"started"`
	DurationMS int64     `json:"duration_ms"`
}

// StatusError is why an upload failed: an OCI error code and message.
type StatusError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Image is one image an upload stored, as the upload's answer lists it.
type Image struct {
	Repository string                `json:"repository"`
	Tags       []string              `json:"tags"`
	Digest     string                `json:"digest"`
	MediaType  string                `json:"media_type"`
	Size       int64                 `json:"size"`
	Scan       *metadata.ScanSummary `json:"scan"`
	RecordID   string                `json:"record_id"`
}

// Upload is the live progress of one upload. Its methods are safe for
// concurrent use; readers wait on Changed.
type Upload struct {
	mu       sync.Mutex
	status   Status
	changed  chan struct{}
	received func() int64
	lastPing time.Time
	ended    time.Time
	owner    string
	now      func() time.Time
	// rejected is the record of a manifest the gate refused, and its repository.
	rejected, rejectedRepo string
	// share publishes the progress to other replicas; nil: not shared.
	share *sharer
}

// noteRejection keeps the gate's refusal record for the failure report.
func (u *Upload) noteRejection(rec metadata.Record) {
	u.mu.Lock()
	if u.rejected == "" { // the refusal itself; withdrawn pushes follow it
		u.rejected, u.rejectedRepo = rec.ID, rec.Repository
	}
	u.mu.Unlock()
}

// rejectedRecord is the id of the record of the gate's refusal, if any.
func (u *Upload) rejectedRecord() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.rejected
}

// failedRepository is the repository a failure concerns: the refused
// image's, else the one the request named.
func (u *Upload) failedRepository(requested string) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.rejectedRepo != "" {
		return u.rejectedRepo
	}
	return requested
}

// Owner is the subject that started the upload ("" without auth).
func (u *Upload) Owner() string { return u.owner }

// Snapshot returns the current status and a channel closed at the next
// change.
func (u *Upload) Snapshot() (Status, <-chan struct{}) {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.status
	if u.received != nil && u.ended.IsZero() {
		s.BytesReceived = u.received()
	}
	s.Stages = append([]StageTiming(nil), s.Stages...)
	now := u.now()
	if n := len(s.Stages); n > 0 && u.ended.IsZero() {
		s.Stages[n-1].DurationMS = now.Sub(s.Stages[n-1].Started).Milliseconds()
	}
	return s, u.changed
}

// notify wakes the readers; u.mu is held.
func (u *Upload) notify() {
	close(u.changed)
	u.changed = make(chan struct{})
}

// SetStage moves the upload to stage, closing the previous stage's timing.
func (u *Upload) SetStage(stage string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.status.Stage == stage || !u.ended.IsZero() {
		return
	}
	now := u.now()
	u.closeStage(now)
	u.status.Stage = stage
	if stage != StageDone && stage != StageFailed {
		u.status.Stages = append(u.status.Stages, StageTiming{Name: stage, Started: now})
	}
	u.notify()
	u.share.kick()
}

func (u *Upload) closeStage(now time.Time) {
	if n := len(u.status.Stages); n > 0 {
		u.status.Stages[n-1].DurationMS = now.Sub(u.status.Stages[n-1].Started).Milliseconds()
	}
}

// setReceived makes the byte count come from received while receiving.
func (u *Upload) setReceived(received func() int64) {
	u.mu.Lock()
	u.received = received
	u.mu.Unlock()
}

// ping tells readers that bytes arrived, at most every 200 ms.
func (u *Upload) ping() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if now := u.now(); now.Sub(u.lastPing) >= 200*time.Millisecond {
		u.lastPing = now
		u.notify()
	}
}

// finish ends the upload with its images or its error.
func (u *Upload) finish(images []Image, code, message string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.ended.IsZero() {
		return
	}
	now := u.now()
	if u.received != nil {
		u.status.BytesReceived = u.received()
	}
	u.closeStage(now)
	u.ended = now
	if code != "" {
		u.status.Stage = StageFailed
		u.status.Error = &StatusError{Code: code, Message: message}
	} else {
		u.status.Stage = StageDone
		u.status.Images = images
	}
	u.notify()
	u.share.kick()
}

// Tracker keeps the progress of recent uploads in memory: at most max of
// them, each forgotten ttl after it ended (the oldest ended ones go first
// when full). Shared (Share), it also publishes each upload's progress to
// the replicas' common store and reads there the uploads other replicas
// run (shared.go).
type Tracker struct {
	mu      sync.Mutex
	uploads map[string]*Upload
	max     int
	ttl     time.Duration
	now     func() time.Time

	shared fleet.Store // nil: progress is per process
	logger *slog.Logger
}

// NewTracker returns a tracker of at most max uploads kept ttl after they end.
func NewTracker(max int, ttl time.Duration) *Tracker {
	return &Tracker{uploads: map[string]*Upload{}, max: max, ttl: ttl, now: time.Now, logger: slog.New(slog.DiscardHandler)}
}

// Share makes the tracker publish progress to store (space "uploads") and
// claim upload ids there, so that every replica using store can show any
// upload and no two replicas run uploads of the same id. Call it before
// the first Start; logger reports store errors (nil: discarded).
func (t *Tracker) Share(store fleet.Store, logger *slog.Logger) {
	t.shared = store
	if logger != nil {
		t.logger = logger
	}
}

// Start registers a new upload. It fails with ErrIDTaken when id is in
// use (here, or on a replica sharing the store), ErrTrackerFull when
// every slot holds a running upload.
func (t *Tracker) Start(ctx context.Context, id, owner string, expected int64) (*Upload, error) {
	u, err := t.startLocal(id, owner, expected)
	if err != nil || t.shared == nil {
		return u, err
	}
	if err := t.share(ctx, u); err != nil {
		t.mu.Lock()
		delete(t.uploads, id)
		t.mu.Unlock()
		return nil, err
	}
	return u, nil
}

// startLocal registers a new upload in this process.
func (t *Tracker) startLocal(id, owner string, expected int64) (*Upload, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expire()
	if _, taken := t.uploads[id]; taken {
		return nil, ErrIDTaken
	}
	if len(t.uploads) >= t.max {
		return nil, ErrTrackerFull
	}
	u := &Upload{status: Status{ID: id, BytesExpected: max(expected, 0), Stages: []StageTiming{}},
		changed: make(chan struct{}), owner: owner, now: t.now}
	t.uploads[id] = u
	return u, nil
}

// Errors of Tracker.Start.
var (
	ErrIDTaken     = errors.New("upload id in use")
	ErrTrackerFull = errors.New("too many uploads running")
)

// Get returns the upload id, if known.
func (t *Tracker) Get(id string) (*Upload, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expire()
	u, ok := t.uploads[id]
	return u, ok
}

// expire forgets ended uploads older than ttl, and when full the oldest
// ended one; t.mu is held.
func (t *Tracker) expire() {
	now := t.now()
	var oldest string
	var oldestEnd time.Time
	for id, u := range t.uploads {
		u.mu.Lock()
		ended := u.ended
		u.mu.Unlock()
		if ended.IsZero() {
			continue
		}
		if now.Sub(ended) > t.ttl {
			delete(t.uploads, id)
			continue
		}
		if oldest == "" || ended.Before(oldestEnd) {
			oldest, oldestEnd = id, ended
		}
	}
	if len(t.uploads) >= t.max && oldest != "" {
		delete(t.uploads, oldest)
	}
}
