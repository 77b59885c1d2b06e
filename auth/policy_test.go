package auth

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func testPolicy(t *testing.T) *Policy {
	p, err := NewPolicy(PolicyConfig{
		Bindings: []Binding{
			{Subjects: []string{"root"}, Role: "admin", Repositories: []string{"**"}},
			{Subjects: []string{"alice"}, Role: "developer", Repositories: []string{"team/**"}},
			{Subjects: []string{"bob"}, Role: "reader", Repositories: []string{"team/**"}},
			{Subjects: []string{"*"}, Role: "reader", Repositories: []string{"shared/*"}},
			{Subjects: []string{"carol"}, Role: "maintainer", Repositories: []string{"{username}-apps/**"}},
		},
		PersonalNamespace: true,
		AnonymousPull:     []string{"public/**"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// user is an htpasswd user.
func user(name string) *Identity { return &Identity{Subject: name, Method: MethodPassword} }

func TestPolicyAllowed(t *testing.T) {
	p := testPolicy(t)
	robot := &Identity{Subject: "robot$ci", Method: "robot", Scopes: []Scope{{Repositories: "team/app", Actions: []string{"pull", "push"}}}}
	cases := []struct {
		id   *Identity
		repo string
		want []string
	}{
		{user("root"), "anything/at/all", []string{"delete", "pull", "push"}},
		{user("alice"), "team/app", []string{"pull", "push"}},
		{user("alice"), "other/app", nil},
		{user("alice"), "alice/tool", []string{"delete", "pull", "push"}}, // personal namespace
		{user("alice"), "alice", nil},
		{user("bob"), "team/app", []string{"pull"}},
		{user("bob"), "alice/tool", nil},
		{user("bob"), "shared/x", []string{"pull"}},
		{user("bob"), "shared/x/y", nil},
		{user("carol"), "carol-apps/web", []string{"delete", "pull", "push"}},
		{user("alice"), "carol-apps/web", nil},
		{nil, "public/base", []string{"pull"}},
		{nil, "team/app", nil},
		{robot, "team/app", []string{"pull", "push"}},
		{robot, "team/other", nil},
		{robot, "robot$ci/x", nil},                                               // robots have no personal namespace
		{user("**"), "**/x", nil},                                                // a subject never acts as a pattern
		{user("john.doe"), "john.doe/app", []string{"delete", "pull", "push"}},   // "." and "_" are a component's
		{user("mary_jane"), "mary_jane/app", []string{"delete", "pull", "push"}}, // (reponame.CheckComponent)
		{user("John"), "John/app", nil},                                          // no component: no personal namespace
		{user("x_"), "x_/app", nil},                                              // (nor a pushesSomewhere probe)
		{user("a@corp"), "a@corp/app", nil},
	}
	for _, tc := range cases {
		if got := p.Allowed(tc.id, tc.repo); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("%+v on %s: %v, want %v", tc.id, tc.repo, got, tc.want)
		}
	}
}

func TestPolicyGrantIntersects(t *testing.T) {
	p := testPolicy(t)
	asked := []ResourceActions{
		{Type: "repository", Name: "team/app", Actions: []string{"pull", "push", "delete"}},
		{Type: "repository", Name: "other/app", Actions: []string{"pull"}},
		{Type: "registry", Name: "catalog", Actions: []string{"*"}},
	}
	got := p.Grant(user("alice"), asked)
	if len(got) != 2 || got[0].Name != "team/app" || !slices.Equal(got[0].Actions, []string{"pull", "push"}) || got[1].Type != "registry" {
		t.Fatalf("alice got %+v", got)
	}
	got = p.Grant(user("root"), asked)
	if len(got) != 3 || got[2].Type != "registry" {
		t.Fatalf("root got %+v", got)
	}
}

func TestNewPolicyRejects(t *testing.T) {
	bad := []PolicyConfig{
		{Bindings: []Binding{{Subjects: []string{"a"}, Role: "wizard", Repositories: []string{"**"}}}},
		{Bindings: []Binding{{Subjects: []string{"a"}, Role: "reader", Repositories: []string{"a//b"}}}},
		{Bindings: []Binding{{Role: "reader", Repositories: []string{"**"}}}},
		{Roles: map[string][]string{"x": {"fly"}}},
		{AnonymousPull: []string{""}},
	}
	for i, c := range bad {
		if _, err := NewPolicy(c); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
}

func TestParseScope(t *testing.T) {
	good := map[string]ResourceActions{
		"repository:team/app:pull,push":    {Type: "repository", Name: "team/app", Actions: []string{"pull", "push"}},
		"repository:example.com/x:pull":    {Type: "repository", Name: "example.com/x", Actions: []string{"pull"}},
		"repository(plugin):team/app:pull": {Type: "repository", Name: "team/app", Actions: []string{"pull"}},
		"registry:catalog:*":               {Type: "registry", Name: "catalog", Actions: []string{"*"}},
	}
	for s, want := range good {
		got, err := ParseScope(s)
		if err != nil || got.Type != want.Type || got.Name != want.Name || !slices.Equal(got.Actions, want.Actions) {
			t.Errorf("%s: %+v %v", s, got, err)
		}
	}
	for _, s := range []string{"repository:../etc:pull", "repository:team/../x:pull", "repository:Team/App:pull",
		"repository:team%2Fapp:pull", "repository:team/app:",
		// Distribution's grammar admits a host as first component (upper
		// case, a port) and does not count it in the 255 characters: no
		// door of imagegate accepts these names (reponame.Check).
		"repository:localhost:5000/x:pull", "repository:Team/app:pull", "repository:" + strings.Repeat("a/", 127) + "bc:pull", "repository:team/app", "registry:other:*", "blob:x:pull", ""} {
		if _, err := ParseScope(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestLockoutGrows(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewLockout(3, time.Minute, time.Minute, 10*time.Minute)
	l.now = func() time.Time { return now }
	ctx := t.Context()
	for i := range 2 {
		if l.Failure(ctx, "ip:1", 3) {
			t.Fatalf("locked after %d failures", i+1)
		}
	}
	if !l.Failure(ctx, "ip:1", 3) {
		t.Fatal("not locked after 3 failures")
	}
	if locked, left := l.Locked(ctx, "ip:1"); !locked || left != time.Minute {
		t.Fatalf("first lockout: %v %v", locked, left)
	}
	now = now.Add(61 * time.Second)
	if locked, _ := l.Locked(ctx, "ip:1"); locked {
		t.Fatal("still locked after the lockout")
	}
	for range 3 {
		l.Failure(ctx, "ip:1", 3)
	}
	if _, left := l.Locked(ctx, "ip:1"); left != 2*time.Minute {
		t.Fatalf("second lockout lasts %v, want 2m", left)
	}
	l.Success(ctx, "ip:1")
	if locked, _ := l.Locked(ctx, "ip:1"); locked {
		t.Fatal("success did not clear the lockout")
	}
}

// TestPolicyTeamNamespaceNotPersonal reproduces issue 12 finding 8: an
// htpasswd user named like a team's top-level namespace ("team") got
// push and delete on team/** through the personal namespace. A namespace
// a binding or anonymous pull names literally is never personal.
func TestPolicyTeamNamespaceNotPersonal(t *testing.T) {
	p := testPolicy(t)
	for _, name := range []string{"team", "shared", "public"} {
		if got := p.Allowed(user(name), name+"/app"); slices.Contains(got, ActionPush) || slices.Contains(got, ActionDelete) {
			t.Errorf("user %q on %s/app: %v, want no push or delete", name, name, got)
		}
	}
	if got := p.Allowed(user("dave"), "dave/app"); !slices.Equal(got, []string{"delete", "pull", "push"}) {
		t.Errorf("an ordinary user's personal namespace: %v", got)
	}
}

// TestPolicyStarBindsUsersOnly reproduces finding 8: a "*" binding also
// matched robots and OIDC subjects, widening a robot beyond its scopes and
// a CI job beyond its claim rules. "*" now means every htpasswd user.
func TestPolicyStarBindsUsersOnly(t *testing.T) {
	p := testPolicy(t)
	for _, id := range []*Identity{
		{Subject: "robot$ci", Method: MethodRobot},
		{Subject: "gitlab:group/app", Method: MethodOIDC},
	} {
		if got := p.Allowed(id, "shared/x"); len(got) != 0 {
			t.Errorf("%s (%s) on shared/x through \"*\": %v, want nothing", id.Subject, id.Method, got)
		}
		if roles := p.Roles(id); slices.Contains(roles, "reader") {
			t.Errorf("%s holds the \"*\" binding's role: %v", id.Subject, roles)
		}
	}
	if got := p.Allowed(user("bob"), "shared/x"); !slices.Equal(got, []string{ActionPull}) {
		t.Errorf("an htpasswd user through \"*\": %v", got)
	}
}
