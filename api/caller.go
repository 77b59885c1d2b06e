package api

import (
	"context"
	"net/http"

	"github.com/distribution/distribution/v3/registry/api/errcode"

	"github.com/imagegate/imagegate/auth"
	"github.com/imagegate/imagegate/internal/errcodes"
)

// TokenScope is the one token scope of the API: a token for it serves
// every endpoint, and the policy decides each request (docs/api.md).
var TokenScope = auth.APIScope.String()

// Caller is who sent an API request, as the Authenticator established it
// once for the request. Every endpoint asks it one question: may the
// caller take this action on this repository, or is it an administrator.
type Caller interface {
	// Subject names the caller, "" when anonymous.
	Subject() string
	// May reports whether the caller may take action (pull, push) on repo.
	May(repo, action string) bool
	// Admin reports whether the caller is an administrator.
	Admin() bool
	// Complete reports whether a whole identity was judged. Refusing an
	// incomplete caller (no credentials, or a token without the API's
	// scope) answers 401 with a challenge; a complete one, 403.
	Complete() bool
}

// Authenticator establishes the caller of API requests.
type Authenticator interface {
	// Authenticate returns r's caller. When r carries credentials that
	// are not valid it answers the request itself (401 with a challenge,
	// 429 while the login is locked out) and returns false.
	Authenticate(w http.ResponseWriter, r *http.Request) (Caller, bool)
	// Challenge answers 401 with e and a Bearer challenge naming the
	// API's token scope; errCode is the challenge's error ("" or
	// "insufficient_scope").
	Challenge(w http.ResponseWriter, r *http.Request, errCode string, e errcode.Error)
}

// open is the Authenticator of a registry without authentication: every
// caller may do everything.
type open struct{}

func (open) Authenticate(http.ResponseWriter, *http.Request) (Caller, bool) { return everyone{}, true }
func (open) Challenge(w http.ResponseWriter, _ *http.Request, _ string, e errcode.Error) {
	_ = errcode.ServeJSON(w, e)
}

// everyone is the caller of an open registry.
type everyone struct{}

func (everyone) Subject() string         { return "" }
func (everyone) May(string, string) bool { return true }
func (everyone) Admin() bool             { return true }
func (everyone) Complete() bool          { return true }

type callerKey struct{}

// callerOf is the caller ServeHTTP established for r.
func callerOf(r *http.Request) Caller {
	if c, ok := r.Context().Value(callerKey{}).(Caller); ok {
		return c
	}
	return everyone{}
}

// allow answers the request and returns false unless its caller may take
// action on repo: 401 with a challenge for an incomplete caller, 403
// DENIED naming who lacks which action on what for a complete one.
func (a *API) allow(w http.ResponseWriter, r *http.Request, repo, action string) bool {
	c := callerOf(r)
	if c.May(repo, action) {
		return true
	}
	detail := map[string]string{"action": action, "repository": repo}
	if !c.Complete() {
		a.challenge(w, r, errcode.ErrorCodeUnauthorized.WithMessage(
			action+" on "+repo+" needs credentials: Basic, or a Bearer token for scope "+TokenScope).WithDetail(detail))
		return false
	}
	detail["subject"] = c.Subject()
	a.denied(r, c, action, repo)
	errcodes.Serve(w, errcode.ErrorCodeDenied.WithMessage(c.Subject()+" may not "+action+" "+repo).WithDetail(detail))
	return false
}

// allowAdmin answers the request and returns false unless its caller is
// an administrator.
func (a *API) allowAdmin(w http.ResponseWriter, r *http.Request, what string) bool {
	c := callerOf(r)
	if c.Admin() {
		return true
	}
	if !c.Complete() {
		a.challenge(w, r, errcode.ErrorCodeUnauthorized.WithMessage(
			what+" is for administrators: send Basic credentials or a Bearer token for scope "+TokenScope))
		return false
	}
	a.denied(r, c, "admin", "")
	errcodes.Serve(w, errcode.ErrorCodeDenied.WithMessage(what+" is for administrators; "+c.Subject()+" is none").
		WithDetail(map[string]string{"subject": c.Subject(), "action": "admin"}))
	return false
}

// challenge answers 401: insufficient_scope when the request carried
// credentials (a token without the API's scope), else a plain challenge.
func (a *API) challenge(w http.ResponseWriter, r *http.Request, e errcode.Error) {
	code := ""
	if r.Header.Get("Authorization") != "" {
		code = "insufficient_scope"
	}
	a.auth.Challenge(w, r, code, e)
}

// denied logs a refused API request as an audit line.
func (a *API) denied(r *http.Request, c Caller, action, repo string) {
	a.logger.InfoContext(r.Context(), "api access denied", "audit", "auth", "user", c.Subject(),
		"action", action, "repository", repo, "path", r.URL.Path)
}

// withCaller returns r carrying c.
func withCaller(r *http.Request, c Caller) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), callerKey{}, c))
}

// Anyone is the caller of a registry without authentication: it may do
// everything (for embedders such as the web UI, with auth off).
func Anyone() Caller { return everyone{} }
