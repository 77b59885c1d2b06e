package api

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/auth"
	"github.com/imagegate/imagegate/internal/errcodes"
	"github.com/imagegate/imagegate/metadata"
)

// historyScan bounds how many of a repository's newest records are read to
// find tags moved away from a manifest.
const historyScan = 1000

// manifestInfo is the answer of GET /api/v1/repositories/{name}/manifests/{digest}.
type manifestInfo struct {
	Repository string        `json:"repository"`
	Digest     digest.Digest `json:"digest"`
	// Latest is the newest push record of this manifest in the repository.
	Latest *metadata.Record `json:"latest"`
	// TagHistory lists what happened to tags on this manifest, newest first.
	TagHistory []tagEvent `json:"tag_history"`
	// LastPulledAt is when the manifest was last pulled (lifecycle.pulls),
	// LastPulledTag the tag that pull went by; absent when none is
	// recorded or pulls are not tracked.
	LastPulledAt  time.Time `json:"last_pulled_at,omitzero"`
	LastPulledTag string    `json:"last_pulled_tag,omitempty"`
	// pulls_tracked_since and pulls_recorded_since, as in the tags
	// listing: without last_pulled_at, not pulled since the latter.
	pullsCoverage
}

// tagEvent is one change of a tag with respect to a manifest.
type tagEvent struct {
	At       time.Time       `json:"at"`
	Tag      string          `json:"tag"`
	Event    string          `json:"event"` // tagged, moved-away, untagged
	To       digest.Digest   `json:"to,omitempty"`
	Status   metadata.Status `json:"status"`
	RecordID string          `json:"record_id"`
}

// repositoryRoutes splits /api/v1/repositories/{name}/manifests/{digest}[/sub]
// (sub: vulnerabilities, layers, config, referrers, scan):
// repository names contain slashes, so the mux cannot. A malformed name
// is NAME_INVALID, a malformed digest DIGEST_INVALID, both before any
// authorization; these endpoints take no query parameters.
func (a *API) repositoryRoutes(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/api/v1/repositories/")
	i := strings.LastIndex(rest, "/manifests/")
	if name, ok := strings.CutSuffix(rest, "/tags"); i < 0 && ok && r.Method == http.MethodGet {
		a.tagRoute(w, r, name)
		return
	}
	if i < 0 {
		errcodes.Serve(w, errcodes.NotFound.WithMessage("no such endpoint: repository endpoints are /api/v1/repositories/{name}/tags and /api/v1/repositories/{name}/manifests/{digest}[/vulnerabilities|/layers|/config|/referrers|/scan]").
			WithDetail(map[string]string{"path": r.URL.Path}))
		return
	}
	name, ref := rest[:i], rest[i+len("/manifests/"):]
	ref, sub, _ := strings.Cut(ref, "/")
	if _, perr := checkRepository("name", name); perr != nil {
		perr.serve(w)
		return
	}
	d, perr := checkDigest("digest", ref)
	if perr != nil {
		perr.serve(w)
		return
	}
	if _, perr := readParams(r.URL.Query()); perr != nil {
		perr.serve(w)
		return
	}
	switch {
	case sub == "" && r.Method == http.MethodGet:
		if a.allow(w, r, name, auth.ActionPull) {
			a.manifest(w, r, name, d)
		}
	case sub == "vulnerabilities" && r.Method == http.MethodGet:
		if a.allow(w, r, name, auth.ActionPull) {
			a.vulnerabilities(w, r, name, d)
		}
	case sub == "layers" && r.Method == http.MethodGet:
		if a.allow(w, r, name, auth.ActionPull) {
			a.layerReport(w, r, name, d)
		}
	case sub == "config" && r.Method == http.MethodGet:
		if a.allow(w, r, name, auth.ActionPull) {
			a.imageConfigOf(w, r, name, d)
		}
	case sub == "referrers" && r.Method == http.MethodGet:
		if a.allow(w, r, name, auth.ActionPull) {
			a.referrersOf(w, r, name, d)
		}
	case sub == "scan" && r.Method == http.MethodPost:
		if a.allow(w, r, name, auth.ActionPull) {
			a.rescan(w, r, name, d)
		}
	default:
		notFound(w, r)
	}
}

// tagRoute checks GET /api/v1/repositories/{name}/tags (a valid name;
// last a tag, limit 1–MaxTagsPage) and authorizes pull before listing.
func (a *API) tagRoute(w http.ResponseWriter, r *http.Request, name string) {
	if _, perr := checkRepository("name", name); perr != nil {
		perr.serve(w)
		return
	}
	p, perr := readParams(r.URL.Query(), "last", "limit")
	if perr != nil {
		perr.serve(w)
		return
	}
	last, perr := p.tag("last")
	if perr != nil {
		perr.serve(w)
		return
	}
	limit, perr := p.tagLimit()
	if perr != nil {
		perr.serve(w)
		return
	}
	if a.allow(w, r, name, auth.ActionPull) {
		a.tags(w, r, name, last, limit)
	}
}

func (a *API) manifest(w http.ResponseWriter, r *http.Request, repo string, d digest.Digest) {
	ctx := r.Context()
	own, err := a.store.List(ctx, metadata.Query{Repository: repo, Digest: d, Limit: metadata.MaxLimit})
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	info := manifestInfo{Repository: repo, Digest: d, TagHistory: []tagEvent{}}
	for _, rec := range own.Records {
		if rec.Kind == metadata.KindPush && info.Latest == nil {
			info.Latest = rec
		}
		info.TagHistory = append(info.TagHistory, eventsOf(rec)...)
	}
	if info.Latest == nil {
		errcodes.Serve(w, errcodes.RecordUnknown.WithDetail(map[string]string{"repository": repo, "digest": d.String()}))
		return
	}
	recent, err := a.store.List(ctx, metadata.Query{Repository: repo, Since: info.Latest.ReceivedAt, Limit: historyScan})
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	for _, rec := range recent.Records {
		for _, mv := range rec.TagMoves {
			if mv.From == d {
				info.TagHistory = append(info.TagHistory, tagEvent{At: rec.ReceivedAt, Tag: mv.Tag,
					Event: "moved-away", To: rec.Digest, Status: rec.Status, RecordID: rec.ID})
			}
		}
	}
	if a.pulls != nil {
		last, ok, err := a.pulls.Last(ctx, repo, d.String())
		if err != nil {
			a.logger.ErrorContext(ctx, "reading the last pull failed", "repository", repo, "digest", d.String(), "error", err.Error())
			errcodes.Serve(w, errcode.ErrorCodeUnavailable.WithMessage("the last pull could not be read; retry later"))
			return
		}
		if ok {
			info.LastPulledAt, info.LastPulledTag = last.At.UTC(), last.Tag
		}
		cov, ok := a.pullsCoverage(w, r)
		if !ok {
			return
		}
		info.pullsCoverage = cov
	}
	info.Latest = visible(r, []*metadata.Record{info.Latest})[0]
	slices.SortStableFunc(info.TagHistory, func(x, y tagEvent) int { return y.At.Compare(x.At) })
	writeJSON(w, http.StatusOK, info)
}

// eventsOf lists the tag events a record of this manifest stands for.
func eventsOf(rec *metadata.Record) []tagEvent {
	event := map[metadata.Kind]string{
		metadata.KindPush: "tagged", metadata.KindDeleteTag: "untagged", metadata.KindDeleteManifest: "untagged",
	}[rec.Kind]
	var out []tagEvent
	for _, t := range rec.Tags {
		out = append(out, tagEvent{At: rec.ReceivedAt, Tag: t, Event: event, Status: rec.Status, RecordID: rec.ID})
	}
	return out
}
