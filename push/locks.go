package push

import (
	"context"

	"github.com/imagegate/imagegate/fleet"
)

// TagLocks serialise the moves of each tag, so that reading what a tag
// names and pointing it elsewhere are one step: of two pushes to the same
// tag, the second sees the first's manifest, and both records are true.
//
// Lock blocks until it holds every key, or ctx ends (then it holds none
// and returns ctx's error). Keys are taken in sorted order, so two callers
// locking overlapping sets cannot deadlock. unlock releases them all.
type TagLocks interface {
	Lock(ctx context.Context, keys []string) (unlock func(), err error)
}

// NewLocalLocks returns tag locks for one process: FleetLocks over a
// private in-memory store.
func NewLocalLocks() *FleetLocks {
	return NewFleetLocks(fleet.NewMemory(0), FleetLocksOptions{})
}

// TagKey is the lock key of tag in repo.
func TagKey(repo, tag string) string { return repo + ":" + tag }

// tagKeys are the keys of every tag pushes move.
func tagKeys(pushes []*Push) []string {
	var keys []string
	for _, x := range pushes {
		for _, t := range x.Tags {
			keys = append(keys, TagKey(x.Repository, t))
		}
	}
	return keys
}
