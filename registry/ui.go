package registry

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/imagegate/imagegate/api"
	"github.com/imagegate/imagegate/ui"
)

// mountUI serves the web UI under /ui/ when ui.enabled (docs/ui.md): its
// pages are answers of apiHandler for the signed-in person, its sessions
// live in the fleet store (shared by replicas). Off, /ui/ is an unknown
// path (404).
func (s *Server) mountUI(mux *http.ServeMux, apiHandler *api.API) error {
	if !s.cfg.UI.Enabled {
		return nil
	}
	uploads := http.NewServeMux()
	registerUploads(uploads, s.uploads, s.gate.uploads)
	h, err := ui.New(ui.Options{
		API:          apiHandler,
		Uploads:      uploads,
		Auth:         s.auth,
		Sessions:     s.fleet,
		SessionTTL:   s.cfg.UI.SessionTTL,
		Secure:       s.cfg.HTTP.TLS.Certificate != "" || strings.HasPrefix(s.cfg.HTTP.Host, "https://"),
		RegistryHost: hostOf(s.cfg.HTTP.Host),
		Logger:       s.logger.With("component", "ui"),
	})
	if err != nil {
		return fmt.Errorf("registry: the web UI: %w", err)
	}
	mux.Handle(ui.Prefix, h)
	mux.Handle("GET /ui", http.RedirectHandler(ui.Prefix, http.StatusMovedPermanently))
	return nil
}

// hostOf is the host[:port] of http.host (a base URL), "" when unset.
func hostOf(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	return u.Host
}
