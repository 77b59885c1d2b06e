package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/imagegate/imagegate/internal/repopattern"
)

// OIDCRule admits the tokens whose claims match its conditions and grants
// them actions on repositories:
//
//	{Claim: "namespace_path", Equals: "group", Role: "ci", Repositories: "{claim:project_path}/**"}
//
// gives every pipeline of a project under group/ pull and push on its own
// path. Claim names may be dotted to reach into objects
// ("kubernetes.io.namespace").
type OIDCRule struct {
	// Claim names the claim tested; exactly one of Equals (the value as
	// a string: "true", "42") and Pattern (a repository-style glob: "*"
	// within a "/"-separated part, "**" across parts) applies. A claim
	// holding a list matches when one of its elements does.
	Claim   string
	Equals  string
	Pattern string
	// And are further conditions, all of which must hold too.
	And []OIDCCondition
	// Repositories is the repository pattern granted, where
	// "{claim:NAME}" stands for the claim's value, lower-cased; the value
	// must be a valid repository path ("group/app"), or the token is
	// refused. Empty: the rule only admits tokens, and the policy's
	// bindings on the subject say what they may do.
	Repositories string
	// Actions (pull, push, delete) or Role (a role's actions) are what
	// the rule grants on Repositories.
	Actions []string
	Role    string
}

// OIDCCondition is one more claim test of a rule.
type OIDCCondition struct {
	Claim   string
	Equals  string
	Pattern string
}

// oidcRule is a compiled OIDCRule.
type oidcRule struct {
	conds   []oidcCond
	repos   string // "" grants nothing
	actions []string
}

type oidcCond struct {
	claim   string
	equals  string
	pattern *repopattern.Pattern
}

// placeholderRe finds "{claim:NAME}" in repository patterns.
var placeholderRe = regexp.MustCompile(`\{claim:([^{}]+)\}`)

// repoComponentRe is a repository path component of the reference grammar.
var repoComponentRe = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)

// maxRepoName is the longest repository name distribution accepts.
const maxRepoName = 255

func compileOIDCRule(r OIDCRule, roles map[string][]string) (oidcRule, error) {
	var cr oidcRule
	for _, c := range slices.Concat([]OIDCCondition{{Claim: r.Claim, Equals: r.Equals, Pattern: r.Pattern}}, r.And) {
		cc, err := compileOIDCCond(c)
		if err != nil {
			return cr, err
		}
		cr.conds = append(cr.conds, cc)
	}
	if r.Repositories == "" {
		if len(r.Actions) > 0 || r.Role != "" {
			return cr, errors.New("actions and role need repositories")
		}
		return cr, nil
	}
	switch {
	case (len(r.Actions) > 0) == (r.Role != ""):
		return cr, errors.New("needs exactly one of actions and role")
	case r.Role != "":
		actions, ok := roles[r.Role]
		if !ok {
			return cr, fmt.Errorf("unknown role %q", r.Role)
		}
		cr.actions = slices.Clone(actions)
	default:
		for _, a := range r.Actions {
			if a != ActionPull && a != ActionPush && a != ActionDelete {
				return cr, fmt.Errorf("unknown action %q (pull, push, delete)", a)
			}
		}
		cr.actions = slices.Clone(r.Actions)
	}
	slices.Sort(cr.actions)
	cr.actions = slices.Compact(cr.actions)
	probe := placeholderRe.ReplaceAllString(r.Repositories, "x")
	if strings.ContainsAny(probe, "{}") {
		return cr, fmt.Errorf("repositories %q: only {claim:NAME} placeholders are known", r.Repositories)
	}
	if _, err := repopattern.Compile(probe); err != nil {
		return cr, fmt.Errorf("repositories: %w", err)
	}
	cr.repos = r.Repositories
	return cr, nil
}

func compileOIDCCond(c OIDCCondition) (oidcCond, error) {
	if c.Claim == "" {
		return oidcCond{}, errors.New("a condition needs a claim")
	}
	if (c.Equals == "") == (c.Pattern == "") {
		return oidcCond{}, fmt.Errorf("claim %q: needs exactly one of equals and pattern", c.Claim)
	}
	cc := oidcCond{claim: c.Claim, equals: c.Equals}
	if c.Pattern != "" {
		p, err := repopattern.Compile(c.Pattern)
		if err != nil {
			return oidcCond{}, fmt.Errorf("claim %q: %w", c.Claim, err)
		}
		cc.pattern = &p
	}
	return cc, nil
}

// matches reports whether every condition holds for claims.
func (r oidcRule) matches(claims map[string]any) bool {
	for _, c := range r.conds {
		if !c.matches(claims) {
			return false
		}
	}
	return true
}

func (c oidcCond) matches(claims map[string]any) bool {
	v, ok := claimValue(claims, c.claim)
	if !ok {
		return false
	}
	values := []any{v}
	if list, isList := v.([]any); isList {
		values = list
	}
	for _, x := range values {
		s, ok := scalarString(x)
		if ok && ((c.pattern == nil && s == c.equals) || (c.pattern != nil && c.pattern.Match(s))) {
			return true
		}
	}
	return false
}

// scope is what the rule grants for claims, with its placeholders filled
// in; ok is false for rules that grant nothing.
func (r oidcRule) scope(claims map[string]any) (s Scope, ok bool, err error) {
	if r.repos == "" {
		return Scope{}, false, nil
	}
	repos := placeholderRe.ReplaceAllStringFunc(r.repos, func(ph string) string {
		name := placeholderRe.FindStringSubmatch(ph)[1]
		v, found := claimValue(claims, name)
		var val string
		if found {
			val, found = scalarString(v)
		}
		lower, ascii := lowerASCII(val)
		if !found || !ascii || !safeRepoPath(lower) {
			if err == nil {
				err = fmt.Errorf("claim %q is missing or not a valid repository path (%q)", name, truncate(val, 64))
			}
			return "x"
		}
		return lower
	})
	if err != nil {
		return Scope{}, false, err
	}
	if _, err := repopattern.Compile(repos); err != nil || len(repos) > maxRepoName {
		return Scope{}, false, fmt.Errorf("repositories %q: invalid after substitution", truncate(repos, 64))
	}
	return Scope{Repositories: repos, Actions: slices.Clone(r.actions)}, true, nil
}

// lowerASCII lower-cases the ASCII letters of s; ok is false when s holds
// anything past ASCII. Unicode case mapping (strings.ToLower) would fold
// look-alikes onto ASCII names — KELVIN SIGN U+212A to "k", U+0130 to "i"
// — so a claim "group/\u212Aey" would be granted "group/key".
func lowerASCII(s string) (lower string, ok bool) {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= utf8.RuneSelf:
			return "", false
		case 'A' <= c && c <= 'Z':
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b), true
}

// safeRepoPath reports whether s is one or more repository path
// components: lower case, no "..", "*", empty or dot-only parts.
func safeRepoPath(s string) bool {
	if s == "" || len(s) > maxRepoName {
		return false
	}
	for part := range strings.SplitSeq(s, "/") {
		if !repoComponentRe.MatchString(part) {
			return false
		}
	}
	return true
}

// claimValue finds a claim by name; a dotted name reaches into objects,
// the longest key that exists winning ("kubernetes.io.namespace" is
// claims["kubernetes.io"]["namespace"]).
func claimValue(claims map[string]any, name string) (any, bool) {
	if v, ok := claims[name]; ok {
		return v, true
	}
	for i := strings.LastIndexByte(name, '.'); i > 0; i = strings.LastIndexByte(name[:i], '.') {
		if sub, ok := claims[name[:i]].(map[string]any); ok {
			if v, ok := claimValue(sub, name[i+1:]); ok {
				return v, true
			}
		}
	}
	return nil, false
}

// scalarString formats a string, number or boolean claim; lists and
// objects are not scalars.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
