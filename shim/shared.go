package shim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/imagegate/imagegate/fleet"
)

// UploadSpace is the fleet space of shared upload progress: one item per
// upload id, written by the replica running the upload.
const UploadSpace = "uploads"

// Timing of the shared copies.
const (
	// shareEvery: while only the byte count changes, an upload's copy is
	// written at most this often (stage changes and the end at once).
	shareEvery = time.Second
	// shareLive: a running upload's copy outlives a replica that died this
	// long; a live one rewrites it every third of it.
	shareLive = time.Minute
	// remotePoll: how often an event stream on another replica reads the
	// copy.
	remotePoll = 500 * time.Millisecond
	// shareTimeout bounds one store call.
	shareTimeout = 5 * time.Second
	// shareFlushWait: how long an upload's answer waits for its final
	// status to be shared, so that a client told "done" finds it done on
	// any replica.
	shareFlushWait = 2 * time.Second
)

// sharedUpload is an upload's progress as other replicas read it.
type sharedUpload struct {
	// Owner is the subject that started the upload: only it may read.
	Owner string `json:"owner"`
	// Writer tells this sharer's item from another's under the same id.
	Writer string `json:"writer"`
	Status Status `json:"status"`
	// ImagesOmitted counts the images left out of a status too large for
	// the store.
	ImagesOmitted int `json:"images_omitted,omitempty"`
}

// sharer publishes one upload's progress. Its loop (run) is the only
// writer of the upload's item.
type sharer struct {
	store     fleet.Store
	id, owner string
	writer    string
	retain    time.Duration
	logger    *slog.Logger
	kicks     chan struct{}
	done      chan struct{} // closed after the last write

	version int64
	warned  bool
	lost    bool // another replica claimed the id after this copy expired
}

// kick asks for a write now (a stage change, the end); nil-safe, never
// blocks.
func (s *sharer) kick() {
	if s == nil {
		return
	}
	select {
	case s.kicks <- struct{}{}:
	default:
	}
}

// share claims u's id in the shared store and starts publishing u. It
// returns ErrIDTaken when a replica sharing the store holds the id. When
// the store fails the upload goes on unshared (its progress is shown by
// this replica only): progress is a convenience, the upload is not.
func (t *Tracker) share(ctx context.Context, u *Upload) error {
	s := &sharer{store: t.shared, id: u.status.ID, owner: u.owner, writer: randomHex(), retain: t.ttl,
		logger: t.logger, kicks: make(chan struct{}, 1), done: make(chan struct{})}
	st, _ := u.sharedStatus()
	rec, err := s.encode(st)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shareTimeout)
	defer cancel()
	v, err := s.store.Put(ctx, UploadSpace, s.id, rec, 0, shareLive)
	switch {
	case errors.Is(err, fleet.ErrConflict):
		return ErrIDTaken
	case err != nil:
		s.warn(err)
		return nil
	}
	s.version = v
	u.mu.Lock()
	u.share = s
	u.mu.Unlock()
	go s.run(u, rec)
	return nil
}

// run writes u's copy on every kick, and every shareEvery when it
// changed or is due for a refresh, until u ended and that was written.
func (s *sharer) run(u *Upload, last []byte) {
	defer close(s.done)
	tick := time.NewTicker(shareEvery)
	defer tick.Stop()
	written := time.Now()
	for {
		select {
		case <-s.kicks:
		case <-tick.C:
		}
		st, ended := u.sharedStatus()
		rec, err := s.encode(st)
		if err != nil {
			s.warn(err)
		} else if ended || !bytes.Equal(rec, last) || time.Since(written) >= shareLive/3 {
			ttl := shareLive
			if ended {
				ttl = s.retain
			}
			if s.write(rec, ttl) {
				last, written = rec, time.Now()
			}
		}
		if ended {
			return
		}
	}
}

// write puts rec as the upload's copy. A conflict means the last write
// landed unseen or the copy expired: the item is adopted when it is this
// sharer's (or gone), never when another replica claimed the id since.
func (s *sharer) write(rec []byte, ttl time.Duration) bool {
	if s.lost {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), shareTimeout)
	defer cancel()
	for range 2 {
		v, err := s.store.Put(ctx, UploadSpace, s.id, rec, s.version, ttl)
		if err == nil {
			s.version = v
			return true
		}
		if !errors.Is(err, fleet.ErrConflict) {
			s.warn(err)
			return false
		}
		it, err := s.store.Get(ctx, UploadSpace, s.id)
		var cur sharedUpload
		switch {
		case errors.Is(err, fleet.ErrNotFound):
			s.version = 0
		case err != nil:
			s.warn(err)
			return false
		case json.Unmarshal(it.Value, &cur) == nil && cur.Writer == s.writer:
			s.version = it.Version
		default:
			s.lost = true
			s.warn(errors.New("another replica claimed the upload id after this replica's copy expired"))
			return false
		}
	}
	return false
}

// encode is the stored form of st, without its images when they would
// make it too large for the store.
func (s *sharer) encode(st Status) ([]byte, error) {
	rec, err := json.Marshal(sharedUpload{Owner: s.owner, Writer: s.writer, Status: st})
	if err == nil && len(rec) > fleet.MaxValueBytes {
		n := len(st.Images)
		st.Images = nil
		rec, err = json.Marshal(sharedUpload{Owner: s.owner, Writer: s.writer, Status: st, ImagesOmitted: n})
	}
	if err != nil {
		return nil, fmt.Errorf("shim: encoding upload %s's progress: %w", s.id, err)
	}
	return rec, nil
}

// warn logs the first store error of the upload.
func (s *sharer) warn(err error) {
	if s.warned {
		return
	}
	s.warned = true
	s.logger.Warn("sharing upload progress failed; other replicas may not show it", "upload_id", s.id, "error", err.Error())
}

// sharedStatus is u's status as shared: the byte count read now, stage
// durations as closed (readers time the running stage from its start).
func (u *Upload) sharedStatus() (Status, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.status
	if u.received != nil && u.ended.IsZero() {
		s.BytesReceived = u.received()
	}
	s.Stages = append([]StageTiming(nil), s.Stages...)
	return s, !u.ended.IsZero()
}

// waitShared waits (at most d) until u's final status is shared.
func (u *Upload) waitShared(d time.Duration) {
	u.mu.Lock()
	s := u.share
	u.mu.Unlock()
	if s == nil {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
	}
}

// remote reads the shared copy of upload id, run by another replica; the
// error wraps fleet.ErrNotFound when no replica shares it.
func (t *Tracker) remote(ctx context.Context, id string) (sharedUpload, error) {
	if t.shared == nil {
		return sharedUpload{}, fmt.Errorf("shim: upload %s: %w", id, fleet.ErrNotFound)
	}
	it, err := t.shared.Get(ctx, UploadSpace, id)
	if err != nil {
		return sharedUpload{}, fmt.Errorf("shim: reading upload %s's shared progress: %w", id, err)
	}
	var su sharedUpload
	if err := json.Unmarshal(it.Value, &su); err != nil {
		return sharedUpload{}, fmt.Errorf("shim: decoding upload %s's shared progress: %w", id, err)
	}
	st := &su.Status
	if n := len(st.Stages); n > 0 && st.Stage != StageDone && st.Stage != StageFailed {
		st.Stages[n-1].DurationMS = t.now().Sub(st.Stages[n-1].Started).Milliseconds()
	}
	return su, nil
}

// randomHex is 64 random bits, hex-encoded.
func randomHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
