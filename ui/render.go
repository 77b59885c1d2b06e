package ui

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/layers"
)

// pageNames are the templates under assets/templates, each rendered
// inside layout.html.
var pageNames = []string{"login", "repositories", "repository", "image", "upload", "robots", "robot-created", "robot-revoke", "status", "error", "pushes"}

// pages are the parsed templates by page name.
type pages map[string]*template.Template

// funcs are the helpers templates may call.
var funcs = template.FuncMap{
	"bytes": layers.HumanBytes,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"whenp": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"millis":   millis,
	"storedAt": storedAt,
	"short": func(d digest.Digest) string {
		e := d.Encoded()
		return d.Algorithm().String() + ":" + e[:min(12, len(e))]
	},
	"percent": func(f float64) string { return fmt.Sprintf("%.1f %%", f) },
	"ratio":   func(f float64) string { return fmt.Sprintf("%.1f %%", f*100) },
	"inc":     func(i int) int { return i + 1 },
	"join":    func(s []string) string { return strings.Join(s, " ") },
	// clip and clipJoin bound what a pusher wrote (clip.go).
	"clip":       clip,
	"clipJoin":   clipJoin,
	"clipName":   clipName,
	"clipReason": clipReason,
}

// parsePages parses every page with the layout.
func parsePages() (pages, error) {
	p := pages{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets,
			"assets/templates/layout.html", "assets/templates/history.html", "assets/templates/lastpull.html",
			"assets/templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("ui: parsing template %s: %w", name, err)
		}
		p[name] = t
	}
	return p, nil
}

// frame is what the layout sees: the page's title and data, and who is
// signed in (for the sign-out form and its CSRF token).
type frame struct {
	Title   string
	Subject string
	CSRF    string
	NoAuth  bool
	// Uploads: the server takes uploads (the header links the page).
	Uploads bool
	// Robots: the person is an administrator of a registry with
	// authentication, whom the robots API serves (the header links it).
	Robots bool
	// Admin: the person is an administrator (the header links the
	// status page; the API decides).
	Admin bool
	Data  any
}

// render answers with page, rendered to a buffer first so that a
// template error is a clean 500, never half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, s *session, status int, page, title string, data any) {
	f := frame{Title: title, Data: data, NoAuth: h.opts.Auth == nil, Uploads: h.opts.Uploads != nil}
	if s != nil && s.caller != nil {
		f.Subject, f.CSRF = s.caller.Subject(), s.CSRF
		f.Robots = h.opts.Auth != nil && s.caller.Admin()
		f.Admin = s.caller.Admin()
	}
	var buf bytes.Buffer
	if err := h.pages[page].Execute(&buf, f); err != nil {
		h.opts.Logger.ErrorContext(r.Context(), "ui template failed", "page", page, "error", err.Error())
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	h.allowLogoutRedirect(w, r, s)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// errorView is the error page's data.
type errorView struct{ Heading, Message string }

// renderError answers status with a page saying what went wrong.
func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, s *session, status int, heading, message string) {
	h.render(w, r, s, status, "error", heading, errorView{Heading: heading, Message: message})
}
