package gc

import (
	"context"
	"errors"
	"fmt"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// attribute resolves what it can of the markers whose file did not parse
// (a write cut short, a truncated object): the file's path still names
// the manifest's digest and its repository's key (the first 16 bytes of
// the SHA-256 of the name), and the stored repositories are walked once
// to find the name with that key. It returns markers with every
// unreadable one that was attributed carrying its Repository (reindexOne
// then indexes or clears it, dated at the file's modification time), and
// how many stay:
//
//   - no stored repository has the key: none holds a manifest under it,
//     so the marker's manifest is not stored — cleared once it was older
//     than InFlight when the walk began (its push had ended by then, so
//     a manifest it stored would have been seen), kept while younger;
//   - the path names no key or no valid digest (not a marker's path):
//     nothing can be attributed, so it blocks deletion until an operator
//     removes it — logged with its path each pass, and counted in
//     imagegate_gc_unreadable_markers.
//
// A safe collector never deletes while an image may be unindexed: every
// marker stays until it is resolved one of these ways.
func (c *Collector) attribute(ctx context.Context, markers []Marker) (out []Marker, left int, err error) {
	need := map[string]string{}
	for _, m := range markers {
		if m.unreadable && m.key != "" && m.Manifest != "" {
			need[m.key] = ""
		}
	}
	start := c.now()
	if len(need) > 0 {
		if err := c.namesOf(ctx, need); err != nil {
			return nil, 0, err
		}
	}
	stray := 0
	for _, m := range markers {
		switch {
		case !m.unreadable:
			out = append(out, m)
		case m.key == "" || m.Manifest == "":
			stray++
			left++
			c.opts.Logger.WarnContext(ctx, "a file among the not-indexed markers names no manifest; garbage collection deletes nothing until it is removed",
				"path", m.path)
		case need[m.key] != "":
			m.Repository = need[m.key]
			c.opts.Logger.InfoContext(ctx, "a not-indexed marker did not parse; its repository was found by its path",
				"path", m.path, "repository", m.Repository, "manifest", m.Manifest.String())
			out = append(out, m)
		case start.Sub(m.At) < InFlight:
			left++ // its push may be storing the manifest now, in a repository not listed yet
		default:
			if err := c.unindexed.clearFile(ctx, m.path); err != nil {
				return nil, 0, err
			}
			c.opts.Logger.InfoContext(ctx, "a not-indexed marker did not parse and no stored repository matches its path; cleared",
				"path", m.path, "manifest", m.Manifest.String())
		}
	}
	c.opts.Metrics.unreadableMarkers(stray)
	return out, left, nil
}

// namesOf fills need (repository key → "") with the names of the stored
// repositories whose key it holds, walking them once.
func (c *Collector) namesOf(ctx context.Context, need map[string]string) error {
	repos, ok := c.opts.Namespace.(distribution.RepositoryEnumerator)
	if !ok {
		return errors.New("gc: the storage cannot enumerate repositories")
	}
	err := repos.Enumerate(ctx, func(name string) error {
		if v, ok := need[repoKey(name)]; ok && v == "" {
			need[repoKey(name)] = name
		}
		return nil
	})
	var empty storagedriver.PathNotFoundError
	if err != nil && !errors.As(err, &empty) {
		return fmt.Errorf("gc: finding the repositories of unreadable not-indexed markers: %w", err)
	}
	return nil
}
