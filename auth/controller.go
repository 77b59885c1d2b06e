package auth

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/distribution/distribution/v3/configuration"
	distauth "github.com/distribution/distribution/v3/registry/auth"

	"github.com/imagegate/imagegate/internal/reqctx"
)

const (
	controllerName   = "imagegate-token"
	optionService    = "service"
	errInvalidToken  = "invalid_token"
	errInsufficient  = "insufficient_scope"
	bearerPrefix     = "Bearer "
	catalogResource  = "catalog"
	registryResource = "registry"
)

func init() {
	if err := distauth.Register(controllerName, func(options map[string]any) (distauth.AccessController, error) {
		s, ok := options[optionService].(*Service)
		if !ok || s == nil {
			return nil, fmt.Errorf("auth: access controller %s needs option %q holding a *Service", controllerName, optionService)
		}
		return s, nil
	}); err != nil {
		panic(err)
	}
}

// DistributionAuth is the distribution configuration entry that makes s
// the registry's access controller.
func (s *Service) DistributionAuth() configuration.Auth {
	return configuration.Auth{controllerName: configuration.Parameters{optionService: s}}
}

// Authorized implements distribution's AccessController: the request must
// carry a valid access token granting every access asked for; otherwise
// the answer is a Bearer challenge telling the client where to get one.
func (s *Service) Authorized(r *http.Request, access ...distauth.Access) (*distauth.Grant, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), bearerPrefix)
	if !ok || tok == "" {
		s.decision(r, "challenged", "", access, reasonNoToken)
		return nil, s.challenge(r, access, "")
	}
	claims, err := s.verifier.Verify(tok)
	if err != nil {
		s.decision(r, "challenged", "", access, err.Error())
		return nil, s.challenge(r, access, errInvalidToken)
	}
	for _, a := range access {
		if !claims.allows(a.Type, a.Name, a.Action) {
			s.decision(r, "denied", claims.Subject, access, "token lacks "+a.Type+":"+a.Name+":"+a.Action)
			ch := s.challenge(r, access, errInsufficient)
			s.explainMissing(r.Context(), &ch, claims, access, a.Type, a.Name)
			return nil, ch
		}
	}
	if info := reqctx.From(r.Context()); info != nil {
		info.SetIdentity(reqctx.Identity{Subject: claims.Subject, Method: claims.AuthMethod, Roles: claims.Roles, Admin: claims.Admin})
	}
	s.decision(r, "granted", claims.Subject, access, "")
	s.watchGranted(r, claims, access)
	grant := &distauth.Grant{User: distauth.UserInfo{Name: claims.Subject}}
	for _, a := range access {
		grant.Resources = append(grant.Resources, a.Resource)
	}
	return grant, nil
}

// allows reports whether the token grants action on the resource.
func (c *Claims) allows(typ, name, action string) bool {
	for _, ra := range c.Access {
		if ra.Type == typ && ra.Name == name && (slices.Contains(ra.Actions, action) || slices.Contains(ra.Actions, "*")) {
			return true
		}
	}
	return false
}

// challenge is distribution's auth.Challenge for a Bearer token flow.
type challenge struct {
	realm, service string
	scopes         []string
	err            string
	// description, when set, is the challenge's error_description: what
	// the client is missing (docker and skopeo print it).
	description string
	// denied, when set, says why no token would grant the access (the
	// policy does not): the answer is 403 DENIED with this message, not a
	// challenge (see ExplainDenials).
	denied string
}

func (c challenge) Error() string {
	if c.err == "" {
		return "authentication required"
	}
	return c.err
}

// SetHeaders implements distribution's auth.Challenge.
func (c challenge) SetHeaders(r *http.Request, w http.ResponseWriter) {
	h := fmt.Sprintf(`Bearer realm=%q,service=%q`, c.realm, c.service)
	if len(c.scopes) > 0 {
		h += fmt.Sprintf(`,scope=%q`, strings.Join(c.scopes, " "))
	}
	if c.err != "" {
		h += fmt.Sprintf(`,error=%q`, c.err)
	}
	if d := c.describe(); d != "" {
		h += fmt.Sprintf(`,error_description=%q`, d)
	}
	w.Header().Set("WWW-Authenticate", h)
	c.note(r)
	// A challenge may name a realm derived from the request's Host: no
	// shared cache may hand it to another client.
	w.Header().Set("Cache-Control", "no-store")
}

// describe is the challenge's error_description: the denial, else the
// description.
func (c challenge) describe() string {
	if c.denied != "" {
		return c.denied
	}
	return c.description
}

func (s *Service) challenge(r *http.Request, access []distauth.Access, errCode string) challenge {
	return challenge{realm: s.realm(r), service: s.opts.Service, scopes: scopesFor(access), err: errCode}
}

// realm is the configured token endpoint or, when unset, this server's
// /auth/token at the request's Host if that is a plain host[:port], else
// at the local address the connection arrived on.
func (s *Service) realm(r *http.Request) string {
	if s.opts.Realm != "" {
		return s.opts.Realm
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if !plainHost(host) {
		host = ""
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			host = a.String()
		}
	}
	return scheme + "://" + host + TokenPath
}

// plainHost reports whether h is a host name or IP literal with an
// optional port, nothing else (no user info, path, query or quoting).
func plainHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	u, err := url.Parse("http://" + h)
	return err == nil && u.Host == h && u.User == nil && u.Path == "" && u.RawQuery == "" && u.Fragment == "" &&
		!strings.ContainsAny(h, `"\ `)
}

// TokenPath is where the token service is mounted.
const TokenPath = "/auth/token"

// scopesFor folds access records into Docker scopes, one per resource.
func scopesFor(access []distauth.Access) []string {
	var order []string
	actions := map[string][]string{}
	for _, a := range access {
		key := a.Type + ":" + a.Name
		if _, ok := actions[key]; !ok {
			order = append(order, key)
		}
		if !slices.Contains(actions[key], a.Action) {
			actions[key] = append(actions[key], a.Action)
		}
	}
	scopes := make([]string, len(order))
	for i, key := range order {
		scopes[i] = key + ":" + strings.Join(actions[key], ",")
	}
	return scopes
}

// reasonNoToken is why a request that carried no credentials is challenged.
const reasonNoToken = "no token"

// decision audits and counts one authorization decision.
func (s *Service) decision(r *http.Request, result, user string, access []distauth.Access, why string) {
	if s.opts.Metrics != nil {
		s.opts.Metrics.Decisions.WithLabelValues(result).Inc()
	}
	if result == "granted" {
		return // the access log line says who did what
	}
	level := slog.LevelInfo
	if result == "challenged" && why == reasonNoToken {
		// A request without credentials asked for them: the first step of
		// every token flow (docker login, each push), which the access line
		// records (401, UNAUTHORIZED). Refusals of credentials stay info.
		level = slog.LevelDebug
	}
	s.opts.Logger.Log(r.Context(), level, "access "+result, "audit", "auth", "user", user,
		"client_ip", s.clientAddr(r), "scope_asked", strings.Join(scopesFor(access), " "), "reason", why)
}

var _ distauth.AccessController = (*Service)(nil)
var _ distauth.Challenge = challenge{}
