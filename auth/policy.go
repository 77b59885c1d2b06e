package auth

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/imagegate/imagegate/internal/reponame"
	"github.com/imagegate/imagegate/internal/repopattern"
)

// Actions a token can grant on a repository.
const (
	ActionPull   = "pull"
	ActionPush   = "push"
	ActionDelete = "delete"
)

// BuiltinRoles are the roles every policy knows; configuration may add
// roles or redefine these.
var BuiltinRoles = map[string][]string{
	"admin":      {ActionPull, ActionPush, ActionDelete},
	"maintainer": {ActionPull, ActionPush, ActionDelete},
	"developer":  {ActionPull, ActionPush},
	"ci":         {ActionPull, ActionPush},
	"reader":     {ActionPull},
}

// AdminRole may also list the catalog and query every push record.
const AdminRole = "admin"

// Binding gives subjects a role on repositories. Subjects are names, or
// "*" for every htpasswd user (Method "password") — never robots or OIDC
// subjects, whose access is what their own scopes or rules say plus
// bindings naming them; repository patterns may contain "{username}",
// replaced by the subject's name.
type Binding struct {
	Subjects     []string
	Role         string
	Repositories []string
}

// PolicyConfig is what a Policy is built from.
type PolicyConfig struct {
	// Roles adds or redefines roles: role → actions.
	Roles    map[string][]string
	Bindings []Binding
	// PersonalNamespace gives every htpasswd user pull, push and delete
	// on "{username}/**" — unless a binding or AnonymousPull names that
	// top-level namespace literally ("team/**"): then it is a team's, and
	// a user named "team" gets nothing there from the personal namespace.
	PersonalNamespace bool
	// AnonymousPull lists repository patterns anyone may pull.
	AnonymousPull []string
}

// Policy decides what an identity may do. It is immutable: reloading the
// configuration builds a new one.
type Policy struct {
	roles         map[string][]string
	bindings      []Binding
	personal      bool
	anonymousPull []repopattern.Pattern
	// reserved are the top-level namespaces bindings and anonymous pull
	// name literally: no user's personal namespace.
	reserved map[string]bool
}

// NewPolicy checks and compiles c.
func NewPolicy(c PolicyConfig) (*Policy, error) {
	p := &Policy{roles: map[string][]string{}, personal: c.PersonalNamespace, reserved: map[string]bool{}}
	for r, a := range BuiltinRoles {
		p.roles[r] = a
	}
	for r, actions := range c.Roles {
		for _, a := range actions {
			if !slices.Contains([]string{ActionPull, ActionPush, ActionDelete}, a) {
				return nil, fmt.Errorf("auth: role %q: unknown action %q (pull, push, delete)", r, a)
			}
		}
		p.roles[r] = actions
	}
	for i, b := range c.Bindings {
		if _, ok := p.roles[b.Role]; !ok {
			return nil, fmt.Errorf("auth: binding %d: unknown role %q", i, b.Role)
		}
		if len(b.Subjects) == 0 || len(b.Repositories) == 0 {
			return nil, fmt.Errorf("auth: binding %d: needs subjects and repositories", i)
		}
		for _, r := range b.Repositories {
			if _, err := repopattern.Compile(strings.ReplaceAll(r, "{username}", "u")); err != nil {
				return nil, fmt.Errorf("auth: binding %d: %w", i, err)
			}
		}
		p.bindings = append(p.bindings, b)
		for _, r := range b.Repositories {
			p.reserve(r)
		}
	}
	for _, r := range c.AnonymousPull {
		p.reserve(r)
		pat, err := repopattern.Compile(r)
		if err != nil {
			return nil, fmt.Errorf("auth: anonymous pull: %w", err)
		}
		p.anonymousPull = append(p.anonymousPull, pat)
	}
	return p, nil
}

// reserve records pattern's first component when it is literal.
func (p *Policy) reserve(pattern string) {
	first, _, _ := strings.Cut(pattern, "/")
	if first != "" && !strings.ContainsAny(first, "*?[{") {
		p.reserved[first] = true
	}
}

// ownsNamespace reports whether repo lies in id's personal namespace: the
// one rule of it, for the token service (/v2/) and the upload door alike.
// A user whose name cannot be a repository path component
// (reponame.CheckComponent: upper case, "@", a trailing "_") has none.
func (p *Policy) ownsNamespace(id *Identity, repo string) bool {
	return p.personal && id.Method == MethodPassword && reponame.CheckComponent(id.Subject) == nil &&
		!p.reserved[id.Subject] && strings.HasPrefix(repo, id.Subject+"/")
}

// Roles lists the roles bound to id (on any repository), sorted.
func (p *Policy) Roles(id *Identity) []string {
	if id == nil {
		return nil
	}
	set := map[string]bool{}
	for _, r := range id.Roles {
		set[r] = true
	}
	for _, b := range p.bindings {
		if bindsSubject(b, id) {
			set[b.Role] = true
		}
	}
	roles := make([]string, 0, len(set))
	for r := range set {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	return roles
}

// IsAdmin reports whether id holds the admin role on every repository.
func (p *Policy) IsAdmin(id *Identity) bool {
	if id == nil {
		return false
	}
	for _, b := range p.bindings {
		if b.Role == AdminRole && bindsSubject(b, id) && slices.Contains(b.Repositories, "**") {
			return true
		}
	}
	return false
}

// Allowed returns the actions id (nil: anonymous) may take on repository
// repo, sorted.
func (p *Policy) Allowed(id *Identity, repo string) []string {
	set := map[string]bool{}
	for _, pat := range p.anonymousPull {
		if pat.Match(repo) {
			set[ActionPull] = true
		}
	}
	if id != nil {
		if p.ownsNamespace(id, repo) {
			set[ActionPull], set[ActionPush], set[ActionDelete] = true, true, true
		}
		for _, b := range p.bindings {
			if !bindsSubject(b, id) || !matchesAny(b.Repositories, repo, id.Subject) {
				continue
			}
			for _, a := range p.roles[b.Role] {
				set[a] = true
			}
		}
		for _, s := range id.Scopes {
			if matchesAny([]string{s.Repositories}, repo, id.Subject) {
				for _, a := range s.Actions {
					set[a] = true
				}
			}
		}
	}
	actions := make([]string, 0, len(set))
	for a := range set {
		actions = append(actions, a)
	}
	sort.Strings(actions)
	return actions
}

// Grant intersects what was asked with what id may do. Unknown resource
// types and actions are dropped.
func (p *Policy) Grant(id *Identity, asked []ResourceActions) []ResourceActions {
	var granted []ResourceActions
	for _, ra := range asked {
		var ok []string
		switch ra.Type {
		case "repository":
			allowed := p.Allowed(id, ra.Name)
			for _, a := range ra.Actions {
				if a == "*" {
					ok = append(ok, allowed...)
				} else if slices.Contains(allowed, a) {
					ok = append(ok, a)
				}
			}
		case "registry":
			// Anyone who may pull something may list the catalog; the
			// server filters it down to what the caller may pull.
			if ra.Name == "catalog" && (id != nil || len(p.anonymousPull) > 0) {
				ok = []string{"*"}
			}
		}
		if len(ok) > 0 {
			slices.Sort(ok)
			granted = append(granted, ResourceActions{Type: ra.Type, Name: ra.Name, Actions: slices.Compact(ok)})
		}
	}
	return granted
}

// bindsSubject reports whether b names id, by name or, for htpasswd
// users only, by "*".
func bindsSubject(b Binding, id *Identity) bool {
	for _, s := range b.Subjects {
		if s == id.Subject || (s == "*" && id.Subject != "" && id.Method == MethodPassword) {
			return true
		}
	}
	return false
}

// matchesAny reports whether repo matches one of patterns, with
// "{username}" standing for subject — never for a subject that could act
// as a pattern itself.
func matchesAny(patterns []string, repo, subject string) bool {
	for _, raw := range patterns {
		if strings.Contains(raw, "{username}") && !safeSubject(subject) {
			continue
		}
		pat, err := repopattern.Compile(strings.ReplaceAll(raw, "{username}", subject))
		if err == nil && pat.Match(repo) {
			return true
		}
	}
	return false
}

// safeSubject reports whether subject can stand in a repository pattern as
// a literal path component.
func safeSubject(subject string) bool {
	return subject != "" && !strings.ContainsAny(subject, "/*") && subject != "." && subject != ".."
}
