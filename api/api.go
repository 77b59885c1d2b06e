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
	"github.com/imagegate/imagegate/pulls"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1/"

// Rescanner scans a stored manifest again with the current vulnerability
// DB and returns the report's summary.
type Rescanner interface {
	Rescan(ctx context.Context, repo string, d digest.Digest) (*metadata.ScanSummary, error)
}

// API answers /api/v1 requests from a metadata store.
type API struct {
	store      metadata.Store
	rescans    Rescanner
	layers     LayerReporter
	catalog    Catalog
	configs    ConfigReader
	robotStore *auth.Robots
	quotas     QuotaReader
	policies   PolicyReader
	referrers  ReferrerLister
	retention  Retention
	gc         GC
	statuses   StatusReader
	pulls      PullReader
	auth       Authenticator
	logger     *slog.Logger
	mux        *http.ServeMux
}

// Options are the API's optional collaborators.
type Options struct {
	// Rescans serves rescans; nil answers them with 503.
	Rescans Rescanner
	// Layers serves layer analyses; nil answers them with 503.
	Layers LayerReporter
	// Auth establishes each request's caller; nil leaves the API open
	// (a registry without authentication).
	Auth Authenticator
	// Robots manages robot accounts; nil when auth is off.
	Robots *auth.Robots
	// Quotas reads namespace quota usage; nil when none is configured.
	Quotas QuotaReader
	// Catalog lists repositories and tags; nil answers them with 404.
	Catalog Catalog
	// Configs serves image configs; nil answers them with 503.
	Configs ConfigReader
	// Policies gives the scan policy of a repository, for the allowlist
	// of the vulnerabilities endpoint; nil reports none.
	Policies PolicyReader
	// Referrers lists a manifest's OCI 1.1 referrers; nil answers them with 503.
	Referrers ReferrerLister
	// Retention plans and applies retention; nil answers 404.
	Retention Retention
	// GC plans and runs garbage collection; nil answers 404.
	GC GC
	// Status gives GET /api/v1/status; nil answers 503.
	Status StatusReader
	// Pulls reads a manifest's last pull and when tracking began; nil:
	// pulls are not tracked.
	Pulls PullReader
}

// PullReader reads the last pull of a manifest and what a missing one
// means (package pulls' Reader): when tracking began, and since when a
// pull would still be recorded (records expire).
type PullReader interface {
	Last(ctx context.Context, repo, digest string) (pulls.Record, bool, error)
	Coverage(ctx context.Context) (pulls.Coverage, bool, error)
}

// New returns the API over store.
func New(store metadata.Store, opts Options, logger *slog.Logger) *API {
	authn := opts.Auth
	if authn == nil {
		authn = open{}
	}
	a := &API{store: store, rescans: opts.Rescans, layers: opts.Layers, catalog: opts.Catalog, configs: opts.Configs, robotStore: opts.Robots, quotas: opts.Quotas, policies: opts.Policies, referrers: opts.Referrers, retention: opts.Retention, gc: opts.GC, statuses: opts.Status, pulls: opts.Pulls, auth: authn, logger: logger, mux: http.NewServeMux()}
	a.mux.HandleFunc("GET /api/v1/pushes", a.listPushes)
	a.mux.HandleFunc("GET /api/v1/pushes/{id}", a.record)
	a.mux.HandleFunc("GET /api/v1/quota", a.quotaUsage)
	a.mux.HandleFunc("GET /api/v1/status", a.status)
	a.mux.HandleFunc("GET /api/v1/retention/plan", a.retentionPlan)
	a.mux.HandleFunc("POST /api/v1/retention/apply", a.retentionApply)
	a.mux.HandleFunc("GET /api/v1/gc/plan", a.gcPlan)
	a.mux.HandleFunc("POST /api/v1/gc/run", a.gcRun)
	a.mux.HandleFunc("POST /api/v1/gc/backfill", a.gcBackfill)
	a.mux.HandleFunc("GET /api/v1/repositories", a.listRepositories)
	a.mux.HandleFunc("/api/v1/repositories/", a.repositoryRoutes)
	a.mux.HandleFunc("/api/v1/robots", a.robots)
	a.mux.HandleFunc("/api/v1/robots/", a.robots)
	a.mux.HandleFunc("/", notFound)
	return a
}

// ServeHTTP implements http.Handler: it establishes the caller once, then
// routes. Each endpoint authorizes what it does (allow, allowAdmin).
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, ok := a.auth.Authenticate(w, r)
	if !ok {
		return
	}
	a.mux.ServeHTTP(w, withCaller(r, c))
}

// ServeAs answers r for caller c, established by the embedding server
// (the web UI's session) instead of from r's credentials: every endpoint
// authorizes c exactly as it would an authenticated request's caller.
func (a *API) ServeAs(w http.ResponseWriter, r *http.Request, c Caller) {
	a.mux.ServeHTTP(w, withCaller(r, c))
}

// notFound answers a path or method that is no API endpoint.
func notFound(w http.ResponseWriter, r *http.Request) {
	errcodes.Serve(w, errcodes.NotFound.WithDetail(map[string]string{"path": r.URL.Path, "method": r.Method}))
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
