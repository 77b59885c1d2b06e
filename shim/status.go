package shim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// lookup finds the upload of the request's {id} that the caller may see;
// on failure it has answered.
func (h *Handler) lookup(w http.ResponseWriter, r *http.Request) (*Upload, bool) {
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
	u, ok := h.tracker.Get(id)
	if !ok || u.Owner() != subject {
		serveError(w, ErrUploadUnknown.WithDetail(map[string]string{"id": id}))
		return nil, false
	}
	return u, true
}

// ServeStatus answers GET /api/v1/uploads/{id} with the upload's Status.
func (h *Handler) ServeStatus(w http.ResponseWriter, r *http.Request) {
	u, ok := h.lookup(w, r)
	if !ok {
		return
	}
	s, _ := u.Snapshot()
	writeJSON(w, http.StatusOK, s)
}

// sseHeartbeat keeps idle event streams open through proxies.
const sseHeartbeat = 15 * time.Second

// ServeEvents answers GET /api/v1/uploads/{id}/events: Server-Sent Events,
// one "progress" event with the Status JSON on every change, ending after
// the upload is done or failed.
func (h *Handler) ServeEvents(w http.ResponseWriter, r *http.Request) {
	u, ok := h.lookup(w, r)
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
		s, changed := u.Snapshot()
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
