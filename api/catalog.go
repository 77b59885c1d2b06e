package api

import (
	"context"
	"net/http"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/auth"
	"github.com/imagegate/imagegate/internal/errcodes"
	"github.com/imagegate/imagegate/metadata"
)

// Catalog reads the repositories and tags in storage (the registry
// implements it over distribution's namespace).
type Catalog interface {
	// Repositories returns up to n repository names after last, in the
	// storage's walk order (by path component on a filesystem, by key on
	// S3), and whether more follow.
	Repositories(ctx context.Context, last string, n int) (names []string, more bool, err error)
	// Tags returns up to n of repo's tags that sort after last, by tag
	// name, with the manifest each names, and whether more follow; none
	// (and no error) when repo holds nothing.
	Tags(ctx context.Context, repo, last string, n int) (tags []Tag, more bool, err error)
}

// Tag is one tag of a repository and the manifest it names.
type Tag struct {
	Name   string        `json:"name"`
	Digest digest.Digest `json:"digest"`
	// LastPulledAt is when the manifest was last pulled (a GET by any tag
	// or by digest), as recorded by lifecycle.pulls; absent when no pull
	// is recorded (never pulled since tracking began, or tracking off).
	// Up to lifecycle.pulls.flushinterval behind.
	LastPulledAt time.Time `json:"last_pulled_at,omitzero"`
	// LastPulledTag is the tag that pull went by; absent when by digest.
	LastPulledTag string `json:"last_pulled_tag,omitempty"`
}

// Bounds of the repository list: names are read catalogBatch at a time,
// at most catalogRounds batches per request, so a caller who may see few
// repositories costs a bounded read (then the page ends early, with
// next_last naming where to go on).
const (
	catalogBatch  = 1000
	catalogRounds = 20
)

// repositoriesPage is the answer of GET /api/v1/repositories.
type repositoriesPage struct {
	Repositories []string `json:"repositories"`
	// NextLast is the last parameter of the next page; absent on the last.
	NextLast string `json:"next_last,omitempty"`
}

// MaxTagsPage is the most tags one answer of GET
// /api/v1/repositories/{name}/tags lists, and its default page: each costs
// a storage read of the manifest it names.
const MaxTagsPage = 10000

// tagsPage is the answer of GET /api/v1/repositories/{name}/tags.
type tagsPage struct {
	Repository string `json:"repository"`
	Tags       []Tag  `json:"tags"`
	// NextLast is the last parameter of the next page; absent on the last.
	NextLast string `json:"next_last,omitempty"`
	pullsCoverage
}

// pullsCoverage is what a missing last_pulled_at means, in the tags
// listing and the manifest's details.
type pullsCoverage struct {
	// PullsTrackedSince is when pull tracking began. Absent when pulls
	// are not tracked (or not yet: before the first flush).
	PullsTrackedSince time.Time `json:"pulls_tracked_since,omitzero"`
	// PullsRecordedSince: a manifest without last_pulled_at was not
	// pulled since then — the later of pulls_tracked_since and now minus
	// lifecycle.pulls.expiry (the record of an older pull expired: when
	// it is later than pulls_tracked_since, "never pulled" would be
	// wrong). Absent with pulls_tracked_since.
	PullsRecordedSince time.Time `json:"pulls_recorded_since,omitzero"`
}

// listRepositories answers GET /api/v1/repositories?last=&limit=: the
// repositories the caller may pull, in the storage's order, limit at most
// (default metadata.DefaultLimit) — the same filter as /v2/_catalog.
func (a *API) listRepositories(w http.ResponseWriter, r *http.Request) {
	p, perr := readParams(r.URL.Query(), "last", "limit")
	if perr != nil {
		perr.serve(w)
		return
	}
	last := ""
	if p.has("last") {
		if last, perr = checkCursorName("last", p.get("last")); perr != nil {
			perr.serve(w)
			return
		}
	}
	limit, perr := p.limit()
	if perr != nil {
		perr.serve(w)
		return
	}
	if limit == 0 {
		limit = metadata.DefaultLimit
	}
	if a.catalog == nil {
		errcodes.Serve(w, errcodes.NotFound.WithMessage("this server lists no repositories"))
		return
	}
	c := callerOf(r)
	out := repositoriesPage{Repositories: []string{}}
	for range catalogRounds {
		names, more, err := a.catalog.Repositories(r.Context(), last, catalogBatch)
		if err != nil {
			a.logger.ErrorContext(r.Context(), "listing repositories failed", "error", err.Error())
			errcodes.Serve(w, errcode.ErrorCodeUnavailable.WithMessage("the repositories could not be listed; retry later"))
			return
		}
		for _, name := range names {
			last = name
			if !c.May(name, auth.ActionPull) {
				continue
			}
			out.Repositories = append(out.Repositories, name)
			if len(out.Repositories) == limit {
				more = more || name != names[len(names)-1]
				break
			}
		}
		if !more {
			writeJSON(w, http.StatusOK, out)
			return
		}
		if len(out.Repositories) == limit {
			break
		}
	}
	out.NextLast = last
	writeJSON(w, http.StatusOK, out)
}

// tags answers GET /api/v1/repositories/{name}/tags?last=&limit= to
// whoever may pull the repository: a page of its tags by name, after
// last, and the manifest each names.
func (a *API) tags(w http.ResponseWriter, r *http.Request, repo, last string, limit int) {
	if a.catalog == nil {
		errcodes.Serve(w, errcodes.NotFound.WithMessage("this server lists no tags"))
		return
	}
	tags, more, err := a.catalog.Tags(r.Context(), repo, last, limit)
	if err != nil {
		a.logger.ErrorContext(r.Context(), "listing tags failed", "repository", repo, "error", err.Error())
		errcodes.Serve(w, errcode.ErrorCodeUnavailable.WithMessage("the tags could not be listed; retry later"))
		return
	}
	if tags == nil {
		tags = []Tag{}
	}
	cov, ok := a.pullsCoverage(w, r)
	if !ok {
		return
	}
	page := tagsPage{Repository: repo, Tags: tags, pullsCoverage: cov}
	if more && len(tags) > 0 {
		page.NextLast = tags[len(tags)-1].Name
	}
	writeJSON(w, http.StatusOK, page)
}

// pullsCoverage is when pull tracking began and since when a pull would
// still be recorded (zero when pulls are not tracked or not yet); false
// when it could not be read, after answering 503.
func (a *API) pullsCoverage(w http.ResponseWriter, r *http.Request) (pullsCoverage, bool) {
	if a.pulls == nil {
		return pullsCoverage{}, true
	}
	cov, ok, err := a.pulls.Coverage(r.Context())
	if err != nil {
		a.logger.ErrorContext(r.Context(), "reading when pull tracking began failed", "error", err.Error())
		errcodes.Serve(w, errcode.ErrorCodeUnavailable.WithMessage("the pull records could not be read; retry later"))
		return pullsCoverage{}, false
	}
	if !ok {
		return pullsCoverage{}, true
	}
	return pullsCoverage{PullsTrackedSince: cov.TrackedSince.UTC(), PullsRecordedSince: cov.From.UTC()}, true
}
