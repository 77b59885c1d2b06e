// Package diffid verifies and remembers the diff_id of layer blobs: the
// digest of a layer's uncompressed tar stream, which an image config lists
// per layer and which Trivy keys its layer-analysis cache by.
//
// A pusher chooses the config, so a diff_id it claims is only a claim: a
// clean layer whose config names the diff_id of a vulnerable base layer
// would file a clean analysis under the base layer's key for every later
// image on that base. The gate therefore computes each new layer's diff_id
// itself (Compute, bounded in size and ratio) and remembers it by the
// layer's blob digest (Store), which the pusher cannot forge either: the
// blob is content-addressed. A known layer costs one small read the second
// time, on any replica.
package diffid
