// Package ui serves imagegate's web UI under /ui/: sign-in for htpasswd
// users, then server-rendered pages over the /api/v1 handlers (each page
// is the API's answer for the signed-in person, so the registry's own
// authorization decides what a page shows). Templates, styles and scripts
// are embedded in the binary; the pages run no inline script and load
// nothing from elsewhere (docs/ui.md).
package ui

import (
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/imagegate/imagegate/api"
	"github.com/imagegate/imagegate/auth"
	"github.com/imagegate/imagegate/fleet"
)

// Prefix is where the UI is mounted.
const Prefix = "/ui/"

//go:embed assets
var assets embed.FS

// Options configure a Handler.
type Options struct {
	// API answers every page's questions, as the signed-in person.
	API *api.API
	// Auth signs people in and judges them; nil: a registry without
	// authentication, whose UI shows everything to everyone.
	Auth *auth.Service
	// Sessions keeps sign-ins (space SessionSpace): the deployment's
	// shared fleet store, so any replica serves any session.
	Sessions fleet.Store
	// SessionTTL is how long a sign-in lasts.
	SessionTTL time.Duration
	// Secure marks cookies Secure (the registry serves TLS, or sits
	// behind a proxy that does: http.host is https).
	Secure bool
	// Uploads serves the upload endpoints (POST /upload-image, GET
	// /api/v1/uploads/{id}/events); nil: the UI has no upload page.
	Uploads http.Handler
	// UploadMaxBytes is upload.maxbytes, the largest upload Uploads
	// takes: the page says it and refuses a larger file before sending
	// it (the server refuses it anyway); 0: not shown, not checked.
	UploadMaxBytes int64
	// RegistryHost is the host[:port] shown in pull commands; "" uses
	// each request's Host.
	RegistryHost string
	// OIDC adds "Sign in with <Name>" to the sign-in page; nil: the form
	// only.
	OIDC *OIDCLogin
	// Now is the clock pages word ages against ("last pulled 3 days
	// ago") and sessions expire and renew by; nil: time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// now is the Handler's clock.
func (h *Handler) now() time.Time {
	if h.opts.Now != nil {
		return h.opts.Now()
	}
	return time.Now()
}

// Handler serves /ui/.
type Handler struct {
	opts  Options
	pages pages
	mux   *http.ServeMux
	// crossOrigin refuses (403) a POST whose Sec-Fetch-Site or Origin
	// says it came from another site: the first line against cross-site
	// request forgery, before each form's CSRF token (csrf.go).
	crossOrigin *http.CrossOriginProtection
	oidc        *oidcFlow // nil without Options.OIDC
	// renewals runs one renewal of an OIDC session at a time per session
	// (by store key) in this process (oidc_renew.go).
	renewals singleflight.Group
}

// New returns the UI's handler, its templates parsed.
func New(opts Options) (*Handler, error) {
	if opts.API == nil || opts.Sessions == nil {
		return nil, fmt.Errorf("ui: an API and a session store are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	h := &Handler{opts: opts, pages: p, mux: http.NewServeMux(), crossOrigin: http.NewCrossOriginProtection()}
	h.crossOrigin.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.refuseForgery(w, r, nil) }))
	static, err := fs.Sub(assets, "assets/static")
	if err != nil {
		return nil, fmt.Errorf("ui: embedded assets: %w", err)
	}
	h.mux.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", staticFiles(static)))
	h.mux.HandleFunc("GET /ui/{$}", h.home)
	h.mux.HandleFunc("GET /ui/login", h.loginForm)
	h.mux.HandleFunc("POST /ui/login", h.login)
	if opts.OIDC != nil && opts.Auth != nil {
		if opts.OIDC.SignIn == nil || opts.OIDC.ClientID == "" {
			return nil, fmt.Errorf("ui: oidc sign-in needs a verifier and a client id")
		}
		h.oidc = &oidcFlow{opts: opts.OIDC}
		h.mux.HandleFunc("POST /ui/login/oidc", h.oidcStart)
		h.mux.HandleFunc("GET "+oidcCallbackPath, h.oidcCallback)
	}
	h.mux.HandleFunc("POST /ui/logout", h.signedIn(h.logout))
	h.mux.HandleFunc("GET /ui/repositories", h.signedIn(h.repositories))
	h.mux.HandleFunc("GET /ui/repository", h.signedIn(h.repository))
	h.mux.HandleFunc("GET /ui/image", h.signedIn(h.image))
	h.mux.HandleFunc("GET /ui/pushes", h.signedIn(h.pushes))
	h.mux.HandleFunc("GET /ui/upload", h.signedIn(h.uploadForm))
	h.mux.HandleFunc("POST /ui/upload-image", h.signedIn(h.upload))
	h.mux.HandleFunc("GET /ui/uploads/{id}/events", h.signedIn(h.uploadEvents))
	h.mux.HandleFunc("GET /ui/robots", h.signedIn(h.robotsPage))
	h.mux.HandleFunc("GET /ui/status", h.signedIn(h.statusPage))
	h.mux.HandleFunc("POST /ui/robots", h.signedIn(h.createRobot))
	h.mux.HandleFunc("GET /ui/robots/revoke", h.signedIn(h.revokeForm))
	h.mux.HandleFunc("POST /ui/robots/revoke", h.signedIn(h.revokeRobot))
	h.mux.HandleFunc("/ui/", h.notFound)
	return h, nil
}

// ServeHTTP implements http.Handler: every answer carries the security
// headers (headers.go), and a state-changing request from another origin
// is refused before any handler runs (403).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w)
	h.crossOrigin.Handler(h.mux).ServeHTTP(w, r)
}

// home sends a person to the repositories, or to sign in.
func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/ui/repositories", http.StatusSeeOther)
}

// notFound answers a path that is no page.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	s, _ := h.currentSession(r)
	h.renderError(w, r, s, http.StatusNotFound, "No such page", "There is no page at "+r.URL.Path+".")
}
