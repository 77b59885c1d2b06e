package registry

import (
	"net/http"
	"strings"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/gorilla/mux"

	"github.com/imagegate/imagegate/internal/errcodes"
	"github.com/imagegate/imagegate/internal/reponame"
)

// refuseInvalidNames wraps the /v2/ handler: a request naming a repository
// outside the OCI name grammar (reponame.Check: longer than 255
// characters, upper case, a host:port) is answered 400 NAME_INVALID before
// it is authorized or reaches any handler. Distribution's router admits
// such names (its grammar allows a registry host as first component and
// bounds no length), so they used to be challenged for a scope the token
// service refuses, answered by the push door or distribution as valid
// names, or — a host:port — passed to the storage driver as a path it
// refuses (500).
func refuseInvalidNames(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if plainPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		if name, ok := namedRepository(r); ok {
			if err := reponame.Check(name); err != nil {
				errcodes.Serve(w, errcode.ErrorCodeNameInvalid.WithMessage(reponame.Refusal(name, err)).WithDetail(map[string]string{
					"name": shorten(name), "reason": err.Error()}))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// plainPath reports whether no repository name in p can be one that
// distribution's router admits and reponame refuses: those have upper
// case, a ":" or brackets in their first component (a registry host) or
// more than 255 characters, while p is at most 255 characters after
// "/v2/" and has none of them before its last segment (a tag, digest or
// upload id, which may). The common request so skips the route match
// (about 8 µs on a loaded 2-core machine).
func plainPath(p string) bool {
	if len(p) > len("/v2/")+reponame.MaxLength {
		return false
	}
	head := p[:max(strings.LastIndexByte(p, '/'), 0)]
	return !strings.ContainsFunc(head, func(c rune) bool { return 'A' <= c && c <= 'Z' || c == ':' || c == '[' || c == ']' })
}

// namedRepository returns the repository a /v2/ request names: the name
// distribution's router reads, else that of a referrers path (package oci
// answers those; distribution has no route for them).
func namedRepository(r *http.Request) (string, bool) {
	var match mux.RouteMatch
	if v2Routes.Match(r, &match) {
		name, ok := match.Vars["name"]
		return name, ok
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v2/")
	if !ok {
		return "", false
	}
	if i := strings.LastIndex(rest, "/referrers/"); i > 0 {
		return rest[:i], true
	}
	return "", false
}

// maxEchoedName bounds the name an error echoes (a path may be far longer
// than any name).
const maxEchoedName = 2 * reponame.MaxLength

// shorten cuts name for an error's detail.
func shorten(name string) string {
	if len(name) <= maxEchoedName {
		return name
	}
	return name[:maxEchoedName] + "…"
}
