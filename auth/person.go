package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrNotAPerson: the credentials were right but belong to an identity
// that may not sign in to the web UI (a robot: robots act through tokens).
var ErrNotAPerson = errors.New("auth: only people (htpasswd users) can sign in; robots use tokens")

// ErrSignedOut: a signed-in person's credential changed or was removed
// since the sign-in, so the session ends.
var ErrSignedOut = errors.New("auth: the account changed since sign-in; sign in again")

// Person is a signed-in htpasswd user: the subject and a fingerprint of
// the credential it proved, which PersonCaller checks against the
// current one on every request.
type Person struct {
	Subject    string `json:"subject"`
	Credential string `json:"credential"`
	// Method is MethodOIDC for a person signed in with an OIDC issuer
	// (OIDCSignIn), whose Scopes are what the issuer's rules granted at
	// sign-in; empty for an htpasswd user.
	Method string  `json:"method,omitempty"`
	Scopes []Scope `json:"scopes,omitempty"`
	// Expires is when the ID token of an OIDC sign-in expires (its exp):
	// a UI session must end by then. Zero for an htpasswd user.
	Expires time.Time `json:"expires,omitzero"`
}

// identity is the identity p acts as (an htpasswd user's only while its
// credential is unchanged: the callers check that first).
func (p Person) identity() Identity {
	if p.Method == MethodOIDC {
		return Identity{Subject: p.Subject, Method: MethodOIDC, Scopes: p.Scopes}
	}
	return Identity{Subject: p.Subject, Method: MethodPassword}
}

// PersonLogin checks a sign-in form's username and password with the
// same authenticators, lockout, metrics and security watcher as the token
// endpoint (checkLogin). It returns a *LoginRefused for a wrong password
// or a locked-out login, ErrNotAPerson for a robot's (or any identity
// other than an htpasswd user's) right password.
func (s *Service) PersonLogin(r *http.Request, username, password string) (Person, error) {
	id, refused := s.checkLogin(r, username, password)
	if refused != nil {
		s.audit(r, "sign-in refused", username, nil, nil, refused.reason)
		return Person{}, refused
	}
	if id.Method != MethodPassword || id.credential == "" {
		s.audit(r, "sign-in refused", username, nil, nil, "not_a_person")
		return Person{}, ErrNotAPerson
	}
	s.audit(r, "signed in", username, nil, nil, "")
	return Person{Subject: id.Subject, Credential: id.credential}, nil
}

// PersonCaller is the API caller of a signed-in person, judged by the
// policy in force now (a reload applies to sessions at once). It returns
// ErrSignedOut when the person's htpasswd entry was removed or its
// password changed since the sign-in.
//
// A person signed in with OIDC keeps the scopes granted at sign-in for the
// session's life (the issuer is not asked again).
func (s *Service) PersonCaller(r *http.Request, p Person) (*APICaller, error) {
	if p.Method == MethodOIDC {
		return s.judgedCaller(r, p.identity(), s.Policy()), nil
	}
	cur, err := s.personCredential(r.Context(), p.Subject)
	if err != nil {
		return nil, err
	}
	if !equal(cur, p.Credential) {
		return nil, ErrSignedOut
	}
	return s.judgedCaller(r, p.identity(), s.Policy()), nil
}

// personCredential is the current credential fingerprint of an htpasswd
// user, from the first authenticator that knows the subject.
func (s *Service) personCredential(ctx context.Context, subject string) (string, error) {
	for _, a := range *s.authn.Load() {
		h, ok := a.(*Htpasswd)
		if !ok {
			continue
		}
		cur, err := h.Credential(ctx, subject)
		if errors.Is(err, ErrNotMine) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("auth: checking %s's credential: %w", subject, err)
		}
		return cur, nil
	}
	return "", ErrSignedOut
}

// personKey carries a signed-in person in a request's context.
type personKey struct{}

// WithPerson returns ctx carrying p: the web UI forwards a signed-in
// person's upload to the upload endpoints with it, instead of credentials.
// Only code in this process can set it (the key is unexported), and
// Uploader judges p exactly as PersonCaller does.
func WithPerson(ctx context.Context, p Person) context.Context {
	return context.WithValue(ctx, personKey{}, p)
}

// personUploader is the Uploader of a person the UI forwarded (WithPerson);
// ok false when r carries none. A person whose credential changed since
// the sign-in is refused (err).
func (s *Service) personUploader(r *http.Request) (u *Uploader, ok bool, err error) {
	p, ok := r.Context().Value(personKey{}).(Person)
	if !ok {
		return nil, false, nil
	}
	if p.Method == MethodOIDC {
		return s.uploader(r, p.identity()), true, nil
	}
	cur, err := s.personCredential(r.Context(), p.Subject)
	if err != nil {
		return nil, true, err
	}
	if !equal(cur, p.Credential) {
		return nil, true, ErrSignedOut
	}
	return s.uploader(r, p.identity()), true, nil
}
