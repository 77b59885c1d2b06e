package shim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"

	"github.com/imagegate/imagegate/fleet"
)

// progress is an upload's status as the status endpoints read it: an
// upload of this replica, or the shared copy of one another replica runs.
type progress interface {
	// next returns the status and a channel closed when it may have
	// changed.
	next(ctx context.Context) (Status, <-chan struct{}, error)
}

// next implements progress for an upload of this replica.
func (u *Upload) next(context.Context) (Status, <-chan struct{}, error) {
	s, changed := u.Snapshot()
	return s, changed, nil
}

// remoteUpload is an upload another replica runs, read from the shared
// store every remotePoll.
type remoteUpload struct {
	t     *Tracker
	id    string
	first *Status // read by lookup, answered first
}

// errUploadGone: the shared copy expired (or its replica died) while read.
var errUploadGone = errors.New("shim: the upload's shared progress is gone")

// next implements progress.
func (r *remoteUpload) next(ctx context.Context) (Status, <-chan struct{}, error) {
	var s Status
	if r.first != nil {
		s, r.first = *r.first, nil
	} else {
		su, err := r.t.remote(ctx, r.id)
		if errors.Is(err, fleet.ErrNotFound) {
			return Status{}, nil, errUploadGone
		}
		if err != nil {
			return Status{}, nil, err
		}
		s = su.Status
	}
	changed := make(chan struct{})
	time.AfterFunc(remotePoll, func() { close(changed) })
	return s, changed, nil
}

// lookup finds the upload of the request's {id} that the caller may see —
// on this replica, else in the shared store; on failure it has answered.
func (h *Handler) lookup(w http.ResponseWriter, r *http.Request) (progress, bool) {
	id := r.PathValue("id")
	w.Header().Set(HeaderUploadID, id)
	subject := ""
	if h.authn != nil {
		caller, ok := h.authn.Authenticate(w, r, "")
		if !ok {
			return nil, false
		}
		subject = caller.Subject()
	}
	unknown := ErrUploadUnknown.WithDetail(map[string]string{"id": id})
	if !uploadIDPattern.MatchString(id) {
		serveError(w, unknown)
		return nil, false
	}
	if u, ok := h.tracker.Get(id); ok {
		if u.Owner() != subject {
			serveError(w, unknown)
			return nil, false
		}
		return u, true
	}
	su, err := h.tracker.remote(r.Context(), id)
	switch {
	case errors.Is(err, fleet.ErrNotFound):
		serveError(w, unknown)
		return nil, false
	case err != nil:
		h.logger.ErrorContext(r.Context(), "reading shared upload progress failed", "upload_id", id, "error", err.Error())
		serveError(w, errcode.ErrorCodeUnavailable.WithMessage("the progress of uploads running on other replicas cannot be read right now; retry"))
		return nil, false
	case su.Owner != subject:
		serveError(w, unknown)
		return nil, false
	}
	return &remoteUpload{t: h.tracker, id: id, first: &su.Status}, true
}

// ServeStatus answers GET /api/v1/uploads/{id} with the upload's Status.
func (h *Handler) ServeStatus(w http.ResponseWriter, r *http.Request) {
	p, ok := h.lookup(w, r)
	if !ok {
		return
	}
	s, _, err := p.next(r.Context())
	if err != nil {
		serveError(w, fmt.Errorf("shim: reading upload progress: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, s)
}

// sseHeartbeat keeps idle event streams open through proxies.
const sseHeartbeat = 15 * time.Second

// ServeEvents answers GET /api/v1/uploads/{id}/events: Server-Sent Events,
// one "progress" event with the Status JSON on every change, ending after
// the upload is done or failed. An upload another replica runs is read
// from the shared store every remotePoll; its stream ends early when the
// shared copy is gone (the replica running it died).
func (h *Handler) ServeEvents(w http.ResponseWriter, r *http.Request) {
	p, ok := h.lookup(w, r)
	if !ok {
		return
	}
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	heartbeat := time.NewTicker(sseHeartbeat)
	defer heartbeat.Stop()
	var last []byte
	for {
		s, changed, err := p.next(r.Context())
		if err != nil {
			if !errors.Is(err, errUploadGone) && r.Context().Err() == nil {
				h.logger.WarnContext(r.Context(), "upload event stream ended: reading shared progress failed", "error", err.Error())
			}
			return
		}
		data, err := json.Marshal(s)
		if err != nil {
			return
		}
		if string(data) != string(last) {
			if _, err := fmt.Fprintf(w, "event: progress\ndata: %s\n\n", data); err != nil {
				return
			}
			last = data
		}
		if flusher != nil {
			flusher.Flush()
		}
		if s.Stage == StageDone || s.Stage == StageFailed {
			return
		}
		select {
		case <-changed:
		case <-heartbeat.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}
