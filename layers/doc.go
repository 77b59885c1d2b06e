// Package layers analyses an image's layers the way Dive
// (github.com/wagoodman/dive) does, for the gate: what each layer adds,
// changes and removes, the bytes the image carries but no container can
// see (wasted), its efficiency, its largest files, recognisable waste
// (package-manager caches, .git, toolchains, test data) and hints to
// shrink it.
//
// It works in two steps so that a layer's bytes are read at most once in
// its life in the registry:
//
//   - Index reads one layer's uncompressed tar stream (fed from the same
//     read that computes its diff_id) into a LayerIndex: its entries'
//     paths, sizes and kinds, whiteouts and opaque directories. An index
//     is small, serialisable and cached per blob (Store);
//   - Analyze merges the indexes of an image's layers in order, with the
//     config's history, into a Report. It reads no blob.
//
// Both are bounded (Limits): hostile tars (huge entry counts, deep or
// long paths, traversal, duplicate entries) are refused with a *LimitError
// or tolerated, never allowed to grow memory or time without bound.
//
// Efficiency, wasted bytes and the inefficiency list follow Dive v0.13.1
// (dive/filetree/efficiency.go, dive/image/analysis.go) and agree with
// its code on the same layers (dive_test.go, a test-only dependency);
// docs/layers.md cites the definitions and lists the few departures.
package layers
