package registry

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/imagegate/imagegate/api"
	"github.com/imagegate/imagegate/auth"
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
	signIn, err := s.oidcSignIn()
	if err != nil {
		return err
	}
	h, err := ui.New(ui.Options{
		OIDC:           signIn,
		API:            apiHandler,
		Uploads:        uploads,
		UploadMaxBytes: s.cfg.Upload.MaxBytes,
		Auth:           s.auth,
		Sessions:       s.fleet,
		SessionTTL:     s.cfg.UI.SessionTTL,
		Secure:         s.cfg.HTTP.TLS.Certificate != "" || strings.HasPrefix(s.cfg.HTTP.Host, "https://"),
		RegistryHost:   hostOf(s.cfg.HTTP.Host),
		Logger:         s.logger.With("component", "ui"),
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

// oidcSignIn is the UI's sign-in with the auth.oidc issuer that has a
// signin section (its rules decide), nil when none or without auth.
func (s *Server) oidcSignIn() (*ui.OIDCLogin, error) {
	if s.auth == nil || !s.cfg.Auth.Enabled {
		return nil, nil
	}
	configs := oidcConfigs(s.cfg.Auth)
	for i, o := range s.cfg.Auth.OIDC {
		if o.SignIn == nil {
			continue
		}
		v, err := auth.NewOIDCSignIn(configs[i], o.SignIn.ClientID, s.logger.With("component", "ui-oidc"))
		if err != nil {
			return nil, fmt.Errorf("registry: auth.oidc[%d].signin: %w", i, err)
		}
		redirect := o.SignIn.RedirectURL
		if redirect == "" && s.cfg.HTTP.Host != "" {
			redirect = strings.TrimSuffix(s.cfg.HTTP.Host, "/") + "/ui/login/oidc/callback"
		}
		return &ui.OIDCLogin{Name: o.SignIn.Name, SignIn: v, ClientID: o.SignIn.ClientID, ClientSecret: o.SignIn.ClientSecret,
			RedirectURL: redirect, Scopes: o.SignIn.Scopes}, nil
	}
	return nil, nil
}
