package gc

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/distribution/distribution/v3"
	"github.com/opencontainers/go-digest"
)

// tagReads is how many tags of a repository a pass reads at once: on S3
// each is one GetObject (a tag's link), which a sequential pass pays
// 10,000 times for 10,000 tags.
const tagReads = 16

// readTags returns the digest each of tags names in ts, reading up to
// tagReads at once. A tag deleted meanwhile is left out; any other
// failure is returned (never read as "untagged"), naming repo and tag.
func readTags(ctx context.Context, repo string, ts distribution.TagService, tags []string) (map[string]digest.Digest, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		out   = make(map[string]digest.Digest, len(tags))
		first error
		wg    sync.WaitGroup
	)
	work := make(chan string)
	for range min(tagReads, len(tags)) {
		wg.Go(func() {
			for t := range work {
				desc, err := ts.Get(ctx, t)
				var unknownTag distribution.ErrTagUnknown
				mu.Lock()
				switch {
				case errors.As(err, &unknownTag): // deleted meanwhile
				case err != nil:
					if first == nil {
						first = fmt.Errorf("gc: reading tag %s:%s: %w", repo, t, err)
						cancel()
					}
				default:
					out[t] = desc.Digest
				}
				mu.Unlock()
			}
		})
	}
feed:
	for _, t := range tags {
		select {
		case work <- t:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("gc: reading the tags of %s: %w", repo, err)
	}
	return out, nil
}
