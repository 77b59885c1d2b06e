// Package api serves imagegate's own HTTP API under /api/v1: queries over
// push records. Errors use the OCI error body, like the registry API.
package api

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/imagegate/imagegate/internal/errcodes"
	"github.com/imagegate/imagegate/metadata"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1/"

// API answers /api/v1 requests from a metadata store.
type API struct {
	store  metadata.Store
	logger *slog.Logger
	mux    *http.ServeMux
}

// New returns the API over store.
func New(store metadata.Store, logger *slog.Logger) *API {
	a := &API{store: store, logger: logger, mux: http.NewServeMux()}
	a.mux.HandleFunc("GET /api/v1/pushes", a.listPushes)
	a.mux.HandleFunc("GET /api/v1/repositories/", a.repositoryRoutes)
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
