package auth

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	distauth "github.com/distribution/distribution/v3/registry/auth"
)

// A token that lacks an action is answered in one of two ways:
//
//   - 401 with a Bearer challenge (error="insufficient_scope") when a new
//     token would carry it: the policy grants the action to the token's
//     identity, the client only asked for less (oras, helm and skopeo ask
//     for scopes one request at a time). The client re-authenticates.
//   - 403 DENIED naming the identity, what it may and may not do on the
//     repository and what to ask for, when no token would carry it: the
//     policy does not grant the action. Clients print a 403's message and
//     do not retry it; a 401 they would answer by logging in again, which
//     cannot help, and then print "authentication required".
//
// Distribution's app answers every challenge 401 UNAUTHORIZED
// "authentication required" with its access records as detail;
// ExplainDenials, around it, turns the second kind into the 403 and gives
// the first a message and a detail a person can read.

// denialKey is the context key of a request's *denialSlot.
type denialKey struct{}

// denialSlot receives the challenge distribution's app answers a request
// with, from challenge.SetHeaders.
type denialSlot struct{ ch *challenge }

// note records ch in r's slot, when r passed through ExplainDenials.
func (c challenge) note(r *http.Request) {
	if r == nil {
		return
	}
	if slot, ok := r.Context().Value(denialKey{}).(*denialSlot); ok {
		slot.ch = &c
	}
}

// explainMissing fills ch for a valid token of claims that lacks some of
// the access asked on the repository name: denied (with its message) when
// the current policy does not grant every missing action to the token's
// identity, a description of the missing scope otherwise.
func (s *Service) explainMissing(ctx context.Context, ch *challenge, claims *Claims, access []distauth.Access, typ, name string) {
	if typ != "repository" {
		return
	}
	var missing []string
	for _, a := range access {
		if a.Type == typ && a.Name == name && !claims.allows(typ, name, a.Action) && !slices.Contains(missing, a.Action) {
			missing = append(missing, a.Action)
		}
	}
	id := s.identityOf(ctx, claims)
	may := s.Policy().Allowed(id, name)
	who := "anonymous"
	if id != nil {
		who = id.Subject
	}
	refused := slices.DeleteFunc(slices.Clone(missing), func(a string) bool { return slices.Contains(may, a) })
	switch {
	case len(refused) == 0:
		ch.description = fmt.Sprintf("the token of %s lacks %s on %s; ask the token service for it", who, strings.Join(missing, ", "), name)
	case id == nil:
		ch.description = fmt.Sprintf("anonymous may %s; log in first", mayPhrase(may, refused, name))
	default:
		ch.denied = fmt.Sprintf("%s may %s; ask an administrator for a role that grants %s on %s",
			who, mayPhrase(may, refused, name), strings.Join(refused, " and "), name)
	}
}

// mayPhrase says what may (the granted actions) allows on repo and which
// refused actions it does not: "pull but not push to team/app", "not pull
// or push to other/app (no access to it at all)".
func mayPhrase(may, refused []string, repo string) string {
	prep := "to"
	switch {
	case slices.Contains(refused, ActionPush):
	case slices.Contains(refused, ActionPull):
		prep = "from"
	default:
		prep = "in"
	}
	not := strings.Join(refused, " or ")
	if len(may) == 0 {
		return fmt.Sprintf("not %s %s %s (no access to it at all)", not, prep, repo)
	}
	return fmt.Sprintf("%s but not %s %s %s", strings.Join(may, ", "), not, prep, repo)
}

// identityOf is the identity behind claims as the policy judges it now
// (robots and OIDC subjects resolved by their authenticator), nil for an
// anonymous token.
func (s *Service) identityOf(ctx context.Context, c *Claims) *Identity {
	if c == nil || c.AuthMethod == "anonymous" {
		return nil
	}
	id := &Identity{Subject: c.Subject, Method: c.AuthMethod, Roles: c.Roles}
	for _, a := range *s.authn.Load() {
		if res, ok := a.(IdentityResolver); ok {
			if got, err := res.Resolve(ctx, c.Subject); err == nil {
				return &got
			}
		}
	}
	return id
}

// errDenied is the 403 answer of a denial.
func errDenied(message string, access []distauth.Access) errcode.Error {
	return errcode.ErrorCodeDenied.WithMessage(message).WithDetail(map[string]any{"scope": strings.Join(scopesFor(access), " ")})
}

// errUnauthorized is the 401 answer of a challenge: a message saying what
// to do and the scopes asked, as strings.
func errUnauthorized(ch challenge) errcode.Error {
	msg := "authentication required"
	if ch.description != "" {
		msg += ": " + ch.description
	} else if ch.err == errInvalidToken {
		msg += ": the token is invalid or expired; log in again"
	} else {
		msg += ": log in (docker login, or a token from " + ch.realm + ")"
	}
	return errcode.ErrorCodeUnauthorized.WithMessage(msg).WithDetail(map[string]any{"scope": strings.Join(ch.scopes, " ")})
}

// ExplainDenials wraps distribution's /v2/ handlers: when they answer a
// request with the access controller's challenge, the answer becomes 403
// DENIED for a denial (see explainMissing; a HEAD keeps its 401, see
// explainingWriter.head) and otherwise keeps its 401 and challenge with a
// readable message and detail. Every other response passes untouched.
func (s *Service) ExplainDenials(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slot := &denialSlot{}
		r = r.WithContext(context.WithValue(r.Context(), denialKey{}, slot))
		next.ServeHTTP(&explainingWriter{ResponseWriter: w, slot: slot, head: r.Method == http.MethodHead}, r)
	})
}

// explainingWriter replaces a 401 written after a noted challenge with
// its own answer, and drops the body that follows.
type explainingWriter struct {
	http.ResponseWriter
	slot *denialSlot
	// head: the request is a HEAD, whose answer has no body to carry a
	// reason: a denial stays a 401 challenge, whose error_description
	// says it (docker and skopeo print it; a 403 they would report as a
	// body they cannot parse).
	head     bool
	replaced bool
}

func (w *explainingWriter) WriteHeader(code int) {
	if code != http.StatusUnauthorized || w.slot.ch == nil || w.replaced {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.replaced = true
	ch := *w.slot.ch
	if ch.denied != "" && !w.head {
		w.Header().Del("WWW-Authenticate")
		_ = errcode.ServeJSON(w.ResponseWriter, errcode.ErrorCodeDenied.WithMessage(ch.denied).
			WithDetail(map[string]any{"scope": strings.Join(ch.scopes, " ")}))
		return
	}
	_ = errcode.ServeJSON(w.ResponseWriter, errUnauthorized(ch))
}

func (w *explainingWriter) Write(p []byte) (int, error) {
	if w.replaced {
		return len(p), nil // distribution's own body of the replaced answer
	}
	return w.ResponseWriter.Write(p)
}

// ReadFrom keeps the underlying writer's fast path (sendfile for blobs);
// the body of a replaced answer is dropped, as Write drops it.
func (w *explainingWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.replaced {
		return io.Copy(io.Discard, src)
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(struct{ io.Writer }{w.ResponseWriter}, src)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *explainingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
