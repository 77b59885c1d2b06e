package auth

import (
	"net/http"
	"testing"
	"time"
)

// TestRefreshGrantRobotKeepsScopes reproduces issue 12 finding 5: `docker
// login -u 'robot$ci'` keeps only the refresh token, and the refresh grant
// rebuilt the robot as a bare subject without its scopes, so every later
// push and pull got a token granting nothing (scope_granted "").
func TestRefreshGrantRobotKeepsScopes(t *testing.T) {
	ts := newTestService(t, nil)
	_, secret, err := ts.robots.Create(t.Context(), "ci", []Scope{{Repositories: "team/**", Actions: []string{ActionPull, ActionPush}}}, time.Hour, "root")
	if err != nil {
		t.Fatal(err)
	}
	login := ts.login(t, "robot$ci", secret)
	if login.status != http.StatusOK || login.refresh == "" {
		t.Fatalf("robot login: %d %s", login.status, login.body)
	}
	got := ts.refresh(t, login.refresh, false, "repository:team/app:pull,push", "repository:other/app:pull")
	if got.status != http.StatusOK {
		t.Fatalf("robot refresh: %d %s", got.status, got.body)
	}
	if want := "repository:team/app:pull,push"; got.granted() != want {
		t.Fatalf("robot refresh granted %q, want %q", got.granted(), want)
	}
	if got.token.Subject != "robot$ci" || got.token.AuthMethod != MethodRobot {
		t.Fatalf("robot refresh token is %s/%s", got.token.Subject, got.token.AuthMethod)
	}
}

// TestRefreshEndsWithTheCredential reproduces finding 6 (revocation): an
// htpasswd user whose password changed, or who was removed, kept
// refreshing for auth.refreshttl; a robot deleted and made again under the
// same name must not inherit the old robot's refresh tokens.
func TestRefreshEndsWithTheCredential(t *testing.T) {
	ts := newTestService(t, nil)
	alice := ts.login(t, "alice", "alice-pw")
	root := ts.login(t, "root", "root-pw")
	if alice.refresh == "" || root.refresh == "" {
		t.Fatalf("logins: %s / %s", alice.body, root.body)
	}
	if got := ts.refresh(t, alice.refresh, false, "repository:team/app:pull"); got.status != http.StatusOK {
		t.Fatalf("refresh before the change: %d %s", got.status, got.body)
	}

	// alice's password changes, root is removed.
	ts.writeUsers(t, map[string]string{"alice": "alice-new-pw"})
	if err := ts.users.Reload(); err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"password changed": alice.refresh, "user removed": root.refresh} {
		if got := ts.refresh(t, tok, false, "repository:team/app:pull"); got.status != http.StatusUnauthorized {
			t.Errorf("%s: refresh answered %d %s, want 401", name, got.status, got.body)
		}
	}
	if got := ts.login(t, "alice", "alice-new-pw"); got.refresh == "" {
		t.Fatalf("login with the new password: %d %s", got.status, got.body)
	} else if again := ts.refresh(t, got.refresh, false); again.status != http.StatusOK {
		t.Fatalf("refresh after logging in with the new password: %d %s", again.status, again.body)
	}

	// A robot revoked and made again: the old refresh token is dead.
	scopes := []Scope{{Repositories: "team/**", Actions: []string{ActionPull}}}
	_, secret, err := ts.robots.Create(t.Context(), "ci", scopes, time.Hour, "root")
	if err != nil {
		t.Fatal(err)
	}
	old := ts.login(t, "robot$ci", secret)
	if err := ts.robots.Revoke(t.Context(), "ci"); err != nil {
		t.Fatal(err)
	}
	if got := ts.refresh(t, old.refresh, false); got.status != http.StatusUnauthorized {
		t.Fatalf("refresh of a revoked robot: %d", got.status)
	}
	if _, _, err := ts.robots.Create(t.Context(), "ci", scopes, time.Hour, "root"); err != nil {
		t.Fatal(err)
	}
	if got := ts.refresh(t, old.refresh, false); got.status != http.StatusUnauthorized {
		t.Fatalf("the old robot's refresh token works for the new robot of the same name: %d", got.status)
	}
}

// TestRefreshRotationDetectsReuse reproduces finding 6 (endless chain): a
// refresh with access_type=offline mints a successor; the old token,
// presented again (a stolen copy), is refused and revokes the whole
// chain, successor included.
func TestRefreshRotationDetectsReuse(t *testing.T) {
	ts := newTestService(t, nil)
	first := ts.login(t, "alice", "alice-pw")
	second := ts.refresh(t, first.refresh, true, "repository:team/app:pull")
	if second.status != http.StatusOK || second.refresh == "" || second.refresh == first.refresh {
		t.Fatalf("rotation: %d %s", second.status, second.body)
	}
	third := ts.refresh(t, second.refresh, true)
	if third.status != http.StatusOK || third.refresh == "" {
		t.Fatalf("second rotation: %d %s", third.status, third.body)
	}
	if got := ts.refresh(t, first.refresh, false); got.status != http.StatusUnauthorized {
		t.Fatalf("reuse of a rotated token: %d %s, want 401", got.status, got.body)
	}
	if got := ts.refresh(t, third.refresh, false); got.status != http.StatusUnauthorized {
		t.Fatalf("the chain's newest token after a reuse: %d, want 401 (chain revoked)", got.status)
	}
	// Another login is another chain, untouched.
	other := ts.login(t, "alice", "alice-pw")
	if got := ts.refresh(t, other.refresh, false); got.status != http.StatusOK {
		t.Fatalf("a separate login after the revocation: %d", got.status)
	}
}

// TestRefreshChainAbsoluteLifetime: rotation never extends a chain past
// its login plus auth.refreshmaxlifetime, and a chain past it is refused.
// Tokens from before chains existed (no chain, no credential) are refused.
func TestRefreshChainAbsoluteLifetime(t *testing.T) {
	ts := newTestService(t, func(o *Options) { o.RefreshMaxLifetime = 90 * time.Minute })
	fp, err := ts.users.Credential(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	alice := Identity{Subject: "alice", Method: MethodPassword, credential: fp}
	now := time.Now().Truncate(time.Second)

	// A chain begun 60 minutes ago has 30 left: its successor lives 30, not the 60-minute refresh TTL.
	young, err := ts.issuer.IssueRefresh(alice, refreshChain{ID: "young", Start: now.Add(-time.Hour), End: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	next := ts.refresh(t, young, true)
	if next.status != http.StatusOK {
		t.Fatalf("rotation within the lifetime: %d %s", next.status, next.body)
	}
	c, err := ts.verifier.VerifyRefresh(next.refresh)
	if err != nil {
		t.Fatal(err)
	}
	if end := now.Add(30 * time.Minute); c.ExpiresAt.After(end.Add(leeway)) {
		t.Fatalf("rotated token expires %s, past the chain's end %s", c.ExpiresAt, end)
	}

	// A chain begun two hours ago is over, although the token itself is not expired.
	old, err := ts.issuer.IssueRefresh(alice, refreshChain{ID: "old", Start: now.Add(-2 * time.Hour), End: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got := ts.refresh(t, old, false); got.status != http.StatusUnauthorized {
		t.Fatalf("refresh past the chain's lifetime: %d", got.status)
	}

	legacy := Claims{RegisteredClaims: ts.issuer.registered("alice", now, time.Hour), Use: useRefresh, AuthMethod: MethodPassword}
	tok, err := ts.issuer.sign(&legacy)
	if err != nil {
		t.Fatal(err)
	}
	if got := ts.refresh(t, tok, false); got.status != http.StatusUnauthorized {
		t.Fatalf("refresh token without chain or credential: %d", got.status)
	}
}

// TestMemoryRefreshStoreBounded: a full store refuses rotations (the
// client gets 503 and keeps its token), forgets expired entries, and
// still records revocations.
func TestMemoryRefreshStoreBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	m := NewMemoryRefreshStore(2)
	m.now = func() time.Time { return now }
	ctx := t.Context()
	for _, id := range []string{"a", "b"} {
		if err := m.Rotate(ctx, "c", id, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Rotate(ctx, "c", "a", now.Add(time.Minute)); err != ErrRefreshReused {
		t.Fatalf("second rotation of a: %v", err)
	}
	if err := m.Rotate(ctx, "c", "x", now.Add(time.Minute)); err != ErrRefreshStoreFull {
		t.Fatalf("rotation into a full store: %v", err)
	}
	if err := m.Revoke(ctx, "c", now.Add(time.Hour)); err != nil || m.Check(ctx, "c", "z") != ErrRefreshRevoked {
		t.Fatalf("revocation in a full store: %v", err)
	}
	now = now.Add(2 * time.Minute)
	if err := m.Rotate(ctx, "d", "x", now.Add(time.Minute)); err != nil {
		t.Fatalf("rotation after entries expired: %v", err)
	}
	if m.Len() != 2 {
		t.Fatalf("store holds %d entries, want 2 (revocation of c, x)", m.Len())
	}
}
