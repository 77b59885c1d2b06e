package ui

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// The issuer's refresh tokens (like Dex, only for sign-ins that asked for
// offline_access): the refresh_token grant rotates them (the old one is
// then refused, as a revoked one is), and the RFC 7009
// revocation_endpoint revokes them.

// newRefresh issues a refresh token for the sign-in g (is.mu held).
func (is *issuer) newRefresh(g grant) string {
	rt := "rt-" + rand.Text()
	is.refresh[rt] = g
	return rt
}

// refreshGrant renews a live refresh token: a new ID token of the same
// sign-in (is.life long), and a new refresh token instead of it.
func (is *issuer) refreshGrant(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	is.mu.Lock()
	defer is.mu.Unlock()
	is.refreshGrants = append(is.refreshGrants, form)
	g, ok := is.refresh[form.Get("refresh_token")]
	if !ok || clientOf(r) != oidcClientID {
		w.WriteHeader(http.StatusBadRequest)
		writeJSON(w, map[string]string{"error": "invalid_grant", "error_description": "refresh token unknown or revoked"})
		return
	}
	delete(is.refresh, form.Get("refresh_token"))
	writeJSON(w, map[string]any{"access_token": "at-" + rand.Text(), "token_type": "Bearer", "expires_in": 300,
		"id_token": is.sign(is.claims(g)), "refresh_token": is.newRefresh(g)})
}

// revoke is the revocation_endpoint for the UI (a public client): it
// records the request and revokes the token; 200 also for a token
// unknown (RFC 7009 §2.2).
func (is *issuer) revoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || clientOf(r) != oidcClientID {
		w.WriteHeader(http.StatusUnauthorized)
		writeJSON(w, map[string]string{"error": "invalid_client"})
		return
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	is.revocations = append(is.revocations, r.PostForm)
	delete(is.refresh, r.PostForm.Get("token"))
}

// clientOf is the client id of a request to the token or revocation
// endpoint: HTTP Basic's user, else the form's client_id.
func clientOf(r *http.Request) string {
	if id, _, ok := r.BasicAuth(); ok {
		id, _ = url.QueryUnescape(id)
		return id
	}
	return r.PostForm.Get("client_id")
}

// setLife sets how long the next ID tokens live.
func (is *issuer) setLife(d time.Duration) {
	is.mu.Lock()
	is.life = d
	is.mu.Unlock()
}

// counts is how many sign-ins (/authorize) and refresh grants the issuer saw.
func (is *issuer) counts() (authorizations, refreshGrants int) {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.authorizations, len(is.refreshGrants)
}

// liveRefresh are the refresh tokens the issuer holds good.
func (is *issuer) liveRefresh() []string {
	is.mu.Lock()
	defer is.mu.Unlock()
	var live []string
	for rt := range is.refresh {
		live = append(live, rt)
	}
	return live
}

// revoked is the forms of the requests to the revocation_endpoint.
func (is *issuer) revoked() []url.Values {
	is.mu.Lock()
	defer is.mu.Unlock()
	return slices.Clone(is.revocations)
}

// oidcYAMLScopes is oidcYAML with the sign-in asking for scopes too.
func (is *issuer) oidcYAMLScopes(scopes ...string) string {
	y := is.oidcYAML()
	for i, s := range scopes {
		if i == 0 {
			y += "        scopes:\n"
		}
		y += fmt.Sprintf("          - %s\n", s)
	}
	return y
}
