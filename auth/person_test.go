package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestPersonLogin: the UI's sign-in takes people only, under the token
// endpoint's lockout; a session's caller ends when the password changes.
func TestPersonLogin(t *testing.T) {
	ts := newTestService(t, nil)
	req := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/ui/login", nil)
		r.RemoteAddr = "192.0.2.7:1234"
		return r
	}
	p, err := ts.PersonLogin(req(), "alice", "alice-pw")
	if err != nil || p.Subject != "alice" || p.Credential == "" {
		t.Fatalf("alice: %+v %v", p, err)
	}
	c, err := ts.PersonCaller(req(), p)
	if err != nil || !c.May("team/app", ActionPush) || c.May("other/app", ActionPull) || c.Admin() || !c.Complete() {
		t.Fatalf("alice's caller: %+v %v", c, err)
	}

	_, secret, err := ts.robots.Create(t.Context(), "ci", []Scope{{Repositories: "team/**", Actions: []string{ActionPull}}}, time.Hour, "root")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.PersonLogin(req(), "robot$ci", secret); !errors.Is(err, ErrNotAPerson) {
		t.Fatalf("a robot's right secret: %v, want ErrNotAPerson", err)
	}

	var refused *LoginRefused
	if _, err := ts.PersonLogin(req(), "alice", "wrong"); !errors.As(err, &refused) || refused.Locked {
		t.Fatalf("wrong password: %v", err)
	}
	for range 4 { // five failures in all lock the pair (newTestService's lockout)
		_, _ = ts.PersonLogin(req(), "alice", "wrong")
	}
	if _, err := ts.PersonLogin(req(), "alice", "alice-pw"); !errors.As(err, &refused) || !refused.Locked || refused.RetryAfter <= 0 {
		t.Fatalf("the right password while locked out: %v", err)
	}
	if st := ts.tryLogin(t, "alice", "alice-pw", "192.0.2.7:1", nil); st != http.StatusTooManyRequests {
		t.Fatalf("the token endpoint after the form's failures: %d, want 429 (one lockout)", st)
	}

	ts.writeUsers(t, map[string]string{"alice": "new-pw", "root": "root-pw"})
	if err := ts.users.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.PersonCaller(req(), p); !errors.Is(err, ErrSignedOut) {
		t.Fatalf("after a password change: %v, want ErrSignedOut", err)
	}
}
