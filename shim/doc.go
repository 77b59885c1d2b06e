// Package shim ingests image tarballs — `docker save` output (the legacy
// layout with manifest.json, and the OCI-layout form Docker ≥ 25 writes)
// and OCI image layout archives, each optionally gzip- or zstd-compressed —
// in one streaming pass, and pushes the images they hold through the same
// gate as `docker push`.
//
// Every tar entry is streamed into a distribution blob writer as it
// appears, its digest computed on the way; uncompressed layers are
// compressed on the way (Options.LayerCompression). Only small JSON
// documents (manifest.json, index.json, configs, manifests) and the entry
// names and link targets (each at most 4096 bytes) are kept in memory,
// under one fixed budget, so memory is bounded whatever the size of the
// archive. Work is bounded by the archive's bytes too: sparse entries are
// refused, declared sizes checked against the limits before an entry is
// read, compressed layers decompressed under the same size and ratio
// bounds as the archive, and the request's context checked inside every
// copy. The caller is authenticated, and its push rights checked, before
// the body is read (Handler). When the archive ends, the manifests are built (or read, for
// an OCI layout), checked against the blobs, and handed to the push
// pipeline (package push) with source tar-upload: the same validation,
// scan, record and notification as a manifest PUT on /v2/.
//
// Nothing becomes addressable before every manifest of the archive has
// passed the gate: the pipeline gates them all, then commits them together
// (see publish); when the gate refuses one, nothing is stored, and the
// blobs the upload added that no accepted manifest references are removed
// (see cleanup).
package shim
