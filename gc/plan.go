package gc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// Plan is what a pass would delete, and why.
type Plan struct {
	At time.Time `json:"at"`
	// Backfilled: the references index covers content stored before it
	// existed; until then Run deletes nothing.
	Backfilled bool `json:"backfilled"`
	// Unindexed counts the manifests pushed while the references index
	// could not be written (a metadata store outage under fail-open) and
	// not indexed since; while any remain Run deletes nothing.
	Unindexed int `json:"unindexed_manifests"`
	// Blocked, when set, says why Run would delete nothing now.
	Blocked   string              `json:"blocked,omitempty"`
	Grace     string              `json:"grace"`
	Untagged  string              `json:"untagged"`
	Indexed   int                 `json:"indexed_manifests"`
	Manifests []ManifestCandidate `json:"manifests"`
	Blobs     []BlobCandidate     `json:"blobs"`
	// Aliases are registry-wide blob aliases whose blob is not stored,
	// and Orphans the derived objects of blobs not stored (strays.go),
	// found in a window of each tree after where the last pass stopped.
	Aliases []AliasCandidate  `json:"aliases"`
	Orphans []OrphanCandidate `json:"derived_orphans"`
	// ScanReports are stored scan reports past their time, found in a
	// window of Options.ScanReportRoot (scanreports.go).
	ScanReports []ScanReportCandidate `json:"scan_reports"`
	// Truncated: the pass's bounds left candidates for a later pass.
	Truncated bool `json:"truncated,omitempty"`
	// windows are the trees' windows read, whose cursors a pass saves.
	windows []window
	// indexComplete: every index entry was read (else no blob is a
	// candidate: one not read might reference it).
	indexComplete bool
}

// ManifestCandidate is a manifest a pass would delete.
type ManifestCandidate struct {
	Repository string        `json:"repository"`
	Digest     digest.Digest `json:"digest"`
	Why        string        `json:"why"`
	Since      time.Time     `json:"since"`
}

// BlobCandidate is a blob a pass would delete.
type BlobCandidate struct {
	Digest digest.Digest `json:"digest"`
	Size   int64         `json:"size"`
	Why    string        `json:"why"`
	Since  time.Time     `json:"since"`
	// Aliases are the registry-wide aliases naming the blob (found in
	// the pass's alias window), deleted with it.
	Aliases    []digest.Digest `json:"aliases,omitempty"`
	path       string
	aliasPaths []string
}

// Plan reads the references index, every indexed repository's tags and
// the stored blobs, and answers what a pass would delete: manifests no
// tag, live index or live subject keeps (per the untagged policy), and
// blobs no indexed manifest references, stored longer than the grace
// period, with their aliases; then the aliases and derived objects of
// blobs no longer stored, from a window of each tree (strays.go), and
// the stored scan reports past their time (scanreports.go). It deletes
// nothing.
func (c *Collector) Plan(ctx context.Context) (*Plan, error) {
	now := c.now().UTC()
	p := &Plan{At: now, Grace: c.opts.Grace.String(), Untagged: c.opts.Untagged,
		Manifests: []ManifestCandidate{}, Blobs: []BlobCandidate{}, Aliases: []AliasCandidate{}, Orphans: []OrphanCandidate{},
		ScanReports: []ScanReportCandidate{}}
	var err error
	if p.Backfilled, err = c.backfilled(ctx); err != nil {
		return nil, err
	}
	markers, moreMarkers, err := c.unindexed.List(ctx, maxMarkers)
	if err != nil {
		return nil, err
	}
	p.Unindexed = len(markers)
	if moreMarkers {
		p.Unindexed++
	}
	switch {
	case !p.Backfilled:
		p.Blocked = ErrNotBackfilled.Error()
	case p.Unindexed > 0:
		p.Blocked = ErrUnindexed.Error()
	}
	byRepo := map[string]map[digest.Digest]Entry{}
	live := map[digest.Digest]bool{}
	more, err := c.refs.All(ctx, c.opts.MaxManifests, func(e Entry) error {
		if byRepo[e.Repository] == nil {
			byRepo[e.Repository] = map[digest.Digest]Entry{}
		}
		byRepo[e.Repository][e.Manifest] = e
		for _, d := range e.Blobs {
			live[d] = true
		}
		for _, d := range e.Children {
			live[d] = true
		}
		p.Indexed++
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.indexComplete, p.Truncated = !more, more
	repos := make([]string, 0, len(byRepo))
	for r := range byRepo {
		repos = append(repos, r)
	}
	slices.Sort(repos)
	for _, r := range repos {
		cands, err := c.planRepository(ctx, r, byRepo[r], now)
		if err != nil {
			return nil, err
		}
		p.Manifests = append(p.Manifests, cands...)
	}
	strays, err := c.readStrays(ctx, now)
	if err != nil {
		return nil, err
	}
	walked := false
	if p.indexComplete {
		if walked, err = c.planBlobs(ctx, p, live, strays.watch, now); err != nil {
			return nil, err
		}
	}
	c.bound(p)
	if err := c.planStrays(ctx, p, strays, walked, now); err != nil {
		return nil, err
	}
	if err := c.planScanReports(ctx, p, now); err != nil {
		return nil, err
	}
	return p, nil
}

// bound keeps at most MaxDeletions candidates, manifests first.
func (c *Collector) bound(p *Plan) {
	if len(p.Manifests) > c.opts.MaxDeletions {
		p.Manifests, p.Truncated = p.Manifests[:c.opts.MaxDeletions], true
	}
	if room := c.opts.MaxDeletions - len(p.Manifests); len(p.Blobs) > room {
		p.Blobs, p.Truncated = p.Blobs[:room], true
	}
}

// planRepository decides which manifests of repo are live: the tagged
// ones, untagged ones the policy keeps, children of live indexes and
// referrers of live subjects; the others are candidates.
func (c *Collector) planRepository(ctx context.Context, repo string, entries map[digest.Digest]Entry, now time.Time) ([]ManifestCandidate, error) {
	tagged, err := c.tagged(ctx, repo)
	if err != nil {
		return nil, err
	}
	referrers := map[digest.Digest][]digest.Digest{}
	live := map[digest.Digest]bool{}
	var queue []digest.Digest
	mark := func(d digest.Digest) {
		if _, ok := entries[d]; ok && !live[d] {
			live[d] = true
			queue = append(queue, d)
		}
	}
	for d, e := range entries {
		if e.Subject != "" {
			referrers[e.Subject] = append(referrers[e.Subject], d)
		}
	}
	for d, e := range entries {
		young := now.Sub(e.Written) < c.opts.UntaggedAge
		_, subjectHere := entries[e.Subject]
		switch {
		case tagged[d]:
			mark(d)
		case e.Subject != "" && !subjectHere && now.Sub(e.Written) < c.opts.Grace:
			mark(d) // a referrer may be pushed before its subject
		case e.Subject == "" && (c.opts.Untagged == UntaggedKeep || young):
			mark(d)
		}
	}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		for _, child := range entries[d].Children {
			mark(child)
		}
		for _, r := range referrers[d] {
			mark(r)
		}
	}
	var out []ManifestCandidate
	for d, e := range entries {
		if live[d] {
			continue
		}
		why := fmt.Sprintf("untagged since %s, kept by no tag, index or subject (untagged: %s)", e.Written.Format(time.RFC3339), c.opts.Untagged)
		if e.Subject != "" {
			if _, ok := entries[e.Subject]; ok {
				why = fmt.Sprintf("its subject %s goes", e.Subject)
			} else {
				why = fmt.Sprintf("its subject %s is gone", e.Subject)
			}
		}
		out = append(out, ManifestCandidate{Repository: repo, Digest: d, Why: why, Since: e.Written})
	}
	slices.SortFunc(out, func(a, b ManifestCandidate) int { return a.Since.Compare(b.Since) })
	return out, nil
}

// tagged is the set of manifests repo's tags name, by canonical digest
// (a tag naming a sha512 alias counts for the manifest's sha256).
func (c *Collector) tagged(ctx context.Context, repo string) (map[digest.Digest]bool, error) {
	named, err := reference.WithName(repo)
	if err != nil {
		return nil, fmt.Errorf("gc: repository %q: %w", repo, err)
	}
	r, err := c.opts.Namespace.Repository(ctx, named)
	if err != nil {
		return nil, err
	}
	ts := r.Tags(ctx)
	tags, err := ts.All(ctx)
	var unknownRepo distribution.ErrRepositoryUnknown
	switch {
	case errors.As(err, &unknownRepo):
		return map[digest.Digest]bool{}, nil // no tag folder: no tags
	case err != nil: // never read a failure as "untagged"
		return nil, fmt.Errorf("gc: reading the tags of %s: %w", repo, err)
	}
	byTag, err := readTags(ctx, repo, ts, tags)
	if err != nil {
		return nil, err
	}
	out := make(map[digest.Digest]bool, len(byTag))
	for t, d := range byTag {
		if d.Algorithm() != digest.Canonical {
			ms, err := r.Manifests(ctx)
			if err != nil {
				return nil, err
			}
			m, err := ms.Get(ctx, d)
			var unknown distribution.ErrManifestUnknownRevision
			var unknownM distribution.ErrManifestUnknown
			switch {
			case errors.As(err, &unknown), errors.As(err, &unknownM), errors.Is(err, distribution.ErrBlobUnknown):
				continue // the tag names nothing stored: it keeps nothing
			case err != nil:
				return nil, fmt.Errorf("gc: reading %s@%s, which tag %s names: %w", repo, d, t, err)
			}
			_, payload, err := m.Payload()
			if err != nil {
				continue
			}
			d = digest.Canonical.FromBytes(payload)
		}
		out[d] = true
	}
	return out, nil
}
