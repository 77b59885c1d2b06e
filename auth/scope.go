package auth

import (
	"fmt"
	"strings"

	"github.com/imagegate/imagegate/internal/reponame"
)

// ParseScope parses a Docker token scope, "repository:team/app:pull,push"
// or "registry:catalog:*". Repository names are checked against the OCI
// name grammar (reponame.Check, as every door checks them), so "..", upper
// case, a host:port, names past 255 characters and encoded tricks never
// reach the policy.
func ParseScope(scope string) (ResourceActions, error) {
	if len(scope) > MaxScopeBytes {
		return ResourceActions{}, fmt.Errorf("scope %q… is %d bytes; at most %d are allowed", scope[:64], len(scope), MaxScopeBytes)
	}
	typ, rest, ok := strings.Cut(scope, ":")
	if !ok {
		return ResourceActions{}, fmt.Errorf("scope %q: want type:name:actions", scope)
	}
	i := strings.LastIndex(rest, ":")
	if i < 0 {
		return ResourceActions{}, fmt.Errorf("scope %q: want type:name:actions", scope)
	}
	name, actions := rest[:i], rest[i+1:]
	// A repository class may follow the type: repository(plugin):name.
	if j := strings.IndexByte(typ, '('); j >= 0 {
		typ = typ[:j]
	}
	switch typ {
	case "repository":
		if err := reponame.Check(name); err != nil {
			return ResourceActions{}, fmt.Errorf("scope %q: invalid repository name: %w", scope, err)
		}
	case "registry":
		if name != "catalog" {
			return ResourceActions{}, fmt.Errorf("scope %q: unknown registry resource", scope)
		}
	default:
		return ResourceActions{}, fmt.Errorf("scope %q: unknown resource type %q", scope, typ)
	}
	var list []string
	for a := range strings.SplitSeq(actions, ",") {
		if a = strings.TrimSpace(a); a != "" {
			list = append(list, a)
		}
	}
	if len(list) == 0 {
		return ResourceActions{}, fmt.Errorf("scope %q: no actions", scope)
	}
	return ResourceActions{Type: typ, Name: name, Actions: list}, nil
}

// MaxScopeBytes bounds one scope: the longest repository name (255) and
// every action fit with room to spare, so what a token request makes the
// service parse, sign, answer and audit stays small.
const MaxScopeBytes = 512

// MaxScopes bounds the scopes of one token request. Clients ask for one
// or two (a push that mounts from another repository); without a bound an
// anonymous GET of 700 KB got a 3.4 MB token and a 1.4 MB audit line.
const MaxScopes = 100

// String formats ra as a scope.
func (ra ResourceActions) String() string {
	return ra.Type + ":" + ra.Name + ":" + strings.Join(ra.Actions, ",")
}
