// Package api serves imagegate's own HTTP API under /api/v1: queries over
// push records. Errors use the OCI error body, like the registry API.
package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/auth"
	"github.com/imagegate/imagegate/internal/errcodes"
	"github.com/imagegate/imagegate/metadata"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1/"

// Guard authorizes API requests. Each method answers the request itself
// (401 with a challenge) and returns false when it is refused.
type Guard interface {
	// AllowPull: the caller may pull repo.
	AllowPull(w http.ResponseWriter, r *http.Request, repo string) bool
	// AllowPush: the caller may push to repo.
	AllowPush(w http.ResponseWriter, r *http.Request, repo string) bool
	// AllowAdmin: the caller is an administrator.
	AllowAdmin(w http.ResponseWriter, r *http.Request) bool
	// IsAdmin reports, answering nothing, whether the caller is an
	// administrator.
	IsAdmin(r *http.Request) bool
}

// open is the Guard of a registry without authentication.
type open struct{}

func (open) AllowPull(http.ResponseWriter, *http.Request, string) bool { return true }
func (open) AllowPush(http.ResponseWriter, *http.Request, string) bool { return true }
func (open) AllowAdmin(http.ResponseWriter, *http.Request) bool        { return true }
func (open) IsAdmin(*http.Request) bool                                { return true }

// Rescanner scans a stored manifest again with the current vulnerability
// DB and returns the report's summary.
type Rescanner interface {
	Rescan(ctx context.Context, repo string, d digest.Digest) (*metadata.ScanSummary, error)
}

// API answers /api/v1 requests from a metadata store.
type API struct {
	store      metadata.Store
	rescans    Rescanner
	robotStore *auth.Robots
	guard      Guard
	logger     *slog.Logger
	mux        *http.ServeMux
}

// Options are the API's optional collaborators.
type Options struct {
	// Rescans serves rescans; nil answers them with 503.
	Rescans Rescanner
	// Guard authorizes requests; nil leaves the API open.
	Guard Guard
	// Robots manages robot accounts; nil when auth is off.
	Robots *auth.Robots
}

// New returns the API over store.
func New(store metadata.Store, opts Options, logger *slog.Logger) *API {
	guard := opts.Guard
	if guard == nil {
		guard = open{}
	}
	a := &API{store: store, rescans: opts.Rescans, robotStore: opts.Robots, guard: guard, logger: logger, mux: http.NewServeMux()}
	a.mux.HandleFunc("GET /api/v1/pushes", a.listPushes)
	a.mux.HandleFunc("/api/v1/repositories/", a.repositoryRoutes)
	a.mux.HandleFunc("/api/v1/robots", a.robots)
	a.mux.HandleFunc("/api/v1/robots/", a.robots)
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		errcodes.Serve(w, errcodes.NotFound.WithDetail(map[string]string{"path": r.URL.Path}))
	})
	return a
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
