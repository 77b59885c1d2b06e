// Package gc is online garbage collection that never races a push
// (docs/lifecycle.md, "Garbage collection").
//
// Three pieces:
//
//   - Refs, the references index in the fleet store: per (repository,
//     manifest) the blobs it holds (config, layers, its own manifest blob),
//     its children (an index) and its subject (a referrer). The push
//     pipeline writes an entry before it stores the manifest; the deletion
//     path removes it after the manifest is deleted; Backfill writes the
//     entries of content stored before the index existed.
//   - Fence, the touch/tombstone protocol: a push touches every digest it
//     references, then reads their tombstones; the collector tombstones a
//     candidate, then reads its touches. Whichever comes second sees the
//     other and backs off, so a collected digest is never one a push
//     accepted.
//   - Unindexed, markers in storage for the manifests a push stored while
//     the fleet store was unreachable (metadata.failmode open): no pass
//     deletes anything until it has indexed them (reindex.go).
//   - Collector: plans (dry run, with reasons) and runs passes, bounded,
//     one replica at a time (a fleet lease), deleting manifests through
//     the guard (records, quota) and blobs, with their aliases and
//     derived objects, through the storage driver.
//   - Strays (strays.go): the registry-wide aliases and the derived
//     objects (diff_ids, layer indexes) of blobs no longer stored, found
//     in a window of each tree per pass and deleted past the grace period
//     under the blob's tombstone, after a recheck.
package gc
