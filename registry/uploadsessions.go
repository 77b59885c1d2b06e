package registry

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/reference"

	"github.com/imagegate/imagegate/internal/reqctx"
)

// uploadSessions bounds the blob upload sessions (POST
// /v2/<name>/blobs/uploads/) each identity keeps open in this process.
// Every session is a few files in storage (six inodes on the filesystem
// driver) that only its commit, its cancellation or the purger removes,
// and the purger waits storage.uploadpurging.age (a week): a pusher
// opening sessions in a loop filled a disk's inodes in about an hour. When
// an identity opens one more than max, its least recently used session
// with no request in flight is cancelled: its files are deleted, and a
// client that comes back to it gets 404 BLOB_UPLOAD_UNKNOWN and starts
// the blob again, as after a purge. A client within max never notices.
// Sessions are known to the replica that saw them (opened there, or
// carried on there); the bound is per replica.
type uploadSessions struct {
	max    int
	cancel func(ctx context.Context, repo, id string) error
	logger *slog.Logger

	mu      sync.Mutex
	byOwner map[string]map[string]*uploadSession // owner → id → session
	byID    map[string]*uploadSession
	clock   uint64 // orders uses (least recently used first)
}

// uploadSession is one open upload as this process knows it.
type uploadSession struct {
	owner, repo, id string
	used            uint64
	inFlight        int
}

// newUploadSessions bounds each identity to max open sessions; cancel
// deletes one from storage.
func newUploadSessions(max int, cancel func(ctx context.Context, repo, id string) error, logger *slog.Logger) *uploadSessions {
	return &uploadSessions{max: max, cancel: cancel, logger: logger,
		byOwner: map[string]map[string]*uploadSession{}, byID: map[string]*uploadSession{}}
}

// cancelTimeout bounds the deletion of an evicted session.
const cancelTimeout = 30 * time.Second

// wrap tracks the upload requests passing through next.
func (u *uploadSessions) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		repo, id, ok := uploadRoute(r.URL.Path)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		began := u.begin(id)
		sw := &responseRecorder{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if id == "" && sw.status == http.StatusAccepted { // a new session
			id = w.Header().Get("Docker-Upload-UUID")
		}
		evicted := u.end(ownerOf(r), repo, id, began, r.Method, sw.status)
		if evicted != nil {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), cancelTimeout)
			defer cancel()
			if err := u.cancel(ctx, evicted.repo, evicted.id); err != nil {
				u.logger.WarnContext(ctx, "cancelling an upload session past limits.uploadsessions failed",
					"repository", evicted.repo, "upload", evicted.id, "error", err)
				return
			}
			u.logger.InfoContext(ctx, "upload session cancelled: limits.uploadsessions reached",
				"user", evicted.owner, "repository", evicted.repo, "upload", evicted.id, "limit", u.max)
		}
	})
}

// begin marks a request in flight on session id, and reports whether the
// session was known.
func (u *uploadSessions) begin(id string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.byID[id]
	if id == "" || s == nil {
		return false
	}
	s.inFlight++
	return true
}

// end records how a request on session id (or a new one) ended (began:
// begin counted it in flight), and returns the session to cancel, if the
// owner is now past max.
func (u *uploadSessions) end(owner, repo, id string, began bool, method string, status int) *uploadSession {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.byID[id]
	if s != nil && began {
		s.inFlight--
	}
	switch {
	case id == "":
		return nil
	case status == http.StatusNotFound, method == http.MethodPut && status == http.StatusCreated,
		method == http.MethodDelete && status == http.StatusNoContent:
		u.forget(s) // committed, cancelled, or gone
		return nil
	case status != http.StatusAccepted && status != http.StatusNoContent: // 204: GET of a session's progress
		return nil
	}
	if s == nil { // opened here, or carried on here after another replica or a restart
		s = &uploadSession{owner: owner, repo: repo, id: id}
		u.byID[id] = s
		if u.byOwner[owner] == nil {
			u.byOwner[owner] = map[string]*uploadSession{}
		}
		u.byOwner[s.owner][id] = s
	}
	u.clock++
	s.used = u.clock
	if len(u.byOwner[s.owner]) <= u.max {
		return nil
	}
	var lru *uploadSession
	for _, o := range u.byOwner[s.owner] {
		if o.inFlight == 0 && o != s && (lru == nil || o.used < lru.used) {
			lru = o
		}
	}
	u.forget(lru)
	return lru
}

// forget drops s (nil: nothing).
func (u *uploadSessions) forget(s *uploadSession) {
	if s == nil {
		return
	}
	delete(u.byID, s.id)
	if m := u.byOwner[s.owner]; m != nil {
		if delete(m, s.id); len(m) == 0 {
			delete(u.byOwner, s.owner)
		}
	}
}

// uploadRoute reads /v2/<name>/blobs/uploads/[<id>]: the repository and
// the session id ("" for the POST that opens one).
func uploadRoute(path string) (repo, id string, ok bool) {
	rest, found := strings.CutPrefix(path, "/v2/")
	if !found {
		return "", "", false
	}
	i := strings.LastIndex(rest, "/blobs/uploads/")
	if i <= 0 {
		return "", "", false
	}
	id = rest[i+len("/blobs/uploads/"):]
	if strings.Contains(id, "/") {
		return "", "", false
	}
	return rest[:i], id, true
}

// ownerOf is who the request's sessions count against: the authenticated
// subject, else the client's address.
func ownerOf(r *http.Request) string {
	if info := reqctx.From(r.Context()); info != nil && info.User() != "" {
		return info.User()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "anonymous@" + host
}

// cancelUpload deletes upload id of repo from storage through ns.
func cancelUpload(ns distribution.Namespace) func(ctx context.Context, repo, id string) error {
	return func(ctx context.Context, repo, id string) error {
		named, err := reference.WithName(repo)
		if err != nil {
			return fmt.Errorf("registry: repository name %q: %w", repo, err)
		}
		r, err := ns.Repository(ctx, named)
		if err != nil {
			return fmt.Errorf("registry: opening %s: %w", repo, err)
		}
		bw, err := r.Blobs(ctx).Resume(ctx, id)
		if err != nil {
			return fmt.Errorf("registry: resuming upload %s of %s: %w", id, repo, err)
		}
		if err := bw.Cancel(ctx); err != nil {
			return fmt.Errorf("registry: cancelling upload %s of %s: %w", id, repo, err)
		}
		return nil
	}
}
