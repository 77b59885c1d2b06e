package lifecycle

import (
	"fmt"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/internal/repopattern"
)

// ImmutableRule is one rule as configured (lifecycle.immutable): tags of
// repositories matching Repositories that match any of Tags are immutable.
type ImmutableRule struct {
	Repositories string
	Tags         []string
}

// Immutability is the compiled set of rules. The nil *Immutability
// protects nothing. It is safe for concurrent use (read only).
type Immutability struct {
	rules []rule
}

type rule struct {
	repos repopattern.Pattern
	tags  []TagPattern
}

// NewImmutability compiles rules; an error names the rule and pattern.
func NewImmutability(rules []ImmutableRule) (*Immutability, error) {
	im := &Immutability{}
	for i, r := range rules {
		repos, err := repopattern.Compile(r.Repositories)
		if err != nil {
			return nil, fmt.Errorf("lifecycle.immutable[%d].repositories: %w", i, err)
		}
		if len(r.Tags) == 0 {
			return nil, fmt.Errorf("lifecycle.immutable[%d].tags: at least one tag pattern (%q for semantic versions)", i, Semver)
		}
		c := rule{repos: repos}
		for j, t := range r.Tags {
			p, err := CompileTag(t)
			if err != nil {
				return nil, fmt.Errorf("lifecycle.immutable[%d].tags[%d]: %w", i, j, err)
			}
			c.tags = append(c.tags, p)
		}
		im.rules = append(im.rules, c)
	}
	return im, nil
}

// Protection names the rule that makes a tag immutable.
type Protection struct {
	// Repositories and Tag are the rule's repository pattern and the tag
	// pattern that matched.
	Repositories string
	Tag          string
}

// String is how messages name the rule: `rule "prod/**" tags "v*.*.*"`.
func (p Protection) String() string {
	return fmt.Sprintf("rule %q tags %q", p.Repositories, p.Tag)
}

// Protects reports whether tag of repo is immutable, and by which rule
// (the first that matches).
func (im *Immutability) Protects(repo, tag string) (Protection, bool) {
	if im == nil {
		return Protection{}, false
	}
	for _, r := range im.rules {
		if !r.repos.Match(repo) {
			continue
		}
		for _, t := range r.tags {
			if t.Match(tag) {
				return Protection{Repositories: r.repos.String(), Tag: t.String()}, true
			}
		}
	}
	return Protection{}, false
}

// Enabled reports whether any rule is configured.
func (im *Immutability) Enabled() bool { return im != nil && len(im.rules) > 0 }

// Change is a write to a tag: From is what it names now ("" for none), To
// what it would name ("" to delete it).
type Change struct {
	Repository string
	Tag        string
	From, To   digest.Digest
}

// Violation is a change an immutability rule forbids.
type Violation struct {
	Change
	Rule Protection
}

// Check returns the violation c is, or nil when it is allowed: creating
// a tag, pointing a tag at the digest it names already (a retried push),
// or changing a tag no rule protects.
func (im *Immutability) Check(c Change) *Violation {
	if c.From == "" || c.From == c.To {
		return nil
	}
	p, ok := im.Protects(c.Repository, c.Tag)
	if !ok {
		return nil
	}
	return &Violation{Change: c, Rule: p}
}

// Message is the refusal a client prints, naming the tag and the rule.
func (v *Violation) Message() string {
	ref := v.Repository + ":" + v.Tag
	if v.To == "" {
		return fmt.Sprintf("tag %s is immutable (%s); it cannot be deleted", ref, v.Rule)
	}
	return fmt.Sprintf("tag %s is immutable (%s); push a new tag instead", ref, v.Rule)
}

// Error is the OCI error answering v: 403 DENIED with Message, and in the
// detail what the tag names and how an administrator overrides. Clients
// print the detail after the message, so it stays short.
func (v *Violation) Error() errcode.Error {
	return errcode.ErrorCodeDenied.WithMessage(v.Message()).WithDetail(map[string]string{
		"digest": v.From.String(), "override": "administrators only: header " + OverrideHeader,
	})
}

// Overridden is what a record and the audit log say of v when an
// administrator overrode it for reason.
func (v *Violation) Overridden(reason string) string {
	what := "moved from " + v.From.String() + " to " + v.To.String()
	if v.To == "" {
		what = "deleted (it named " + v.From.String() + ")"
	}
	return fmt.Sprintf("immutable tag %s:%s %s by administrator override of %s: %s", v.Repository, v.Tag, what, v.Rule, reason)
}
