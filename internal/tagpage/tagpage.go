// Package tagpage lists a repository's tags a page at a time, in lexical
// order, on any storage driver.
//
// distribution's TagService.List walks the tags directory with the
// driver's Walk and pages by comparing names with the last one answered.
// That is right only when the walk visits tags in lexical order, as the
// filesystem driver's does. An S3 listing is in key order, where "v1/"
// sorts after "v1.0/" and "v1-rc/" ('-' and '.' sort before '/'), so on
// S3 the list came out of order and a page that ended at "v1.0" skipped
// "v1" for good: real clients following Links never saw the tag.
package tagpage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/distribution/distribution/v3"
)

// List returns up to limit of ts's tags that sort after last, in lexical
// order (every tag when limit is negative), and io.EOF with them when no
// more follow — the contract of distribution's TagService.List, which the
// tags/list handler pages by. A repository without tags is
// distribution.ErrRepositoryUnknown, as from List.
//
// It reads every tag name (ts.All: the driver's List of the tags
// directory, one S3 request per 1,000 tags), not the tags' histories, as
// a walk does; then it sorts and cuts the page.
func List(ctx context.Context, ts distribution.TagService, limit int, last string) ([]string, error) {
	if limit == 0 {
		return nil, errors.New("tagpage: a page of 0 tags")
	}
	all, err := ts.All(ctx)
	if err != nil {
		if _, unknown := errors.AsType[distribution.ErrRepositoryUnknown](err); unknown {
			return nil, err
		}
		return nil, fmt.Errorf("tagpage: listing tags: %w", err)
	}
	page, more := Cut(all, last, limit)
	if !more {
		return page, io.EOF
	}
	return page, nil
}

// Cut sorts names and returns up to limit of those after last (every one
// when limit is negative), and whether more follow. It may reorder names.
func Cut(names []string, last string, limit int) (page []string, more bool) {
	slices.Sort(names)
	start, found := slices.BinarySearch(names, last)
	if found {
		start++
	}
	names = names[start:]
	if limit < 0 || len(names) <= limit {
		return names, false
	}
	return names[:limit], true
}
