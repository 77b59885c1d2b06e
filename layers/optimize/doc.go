// Package optimize rewrites a single-platform image so that it carries
// only what a container sees, keeping the container's file system
// identical (docs/layers.md, "Optimizing an image"):
//
//   - files that a later layer overwrites (shadowed) or deletes (a
//     whiteout, an opaque directory, a file replacing a directory) are
//     dropped from the layers that hold them, as are earlier copies of a
//     path a tar repeats; whiteouts and opaque markers that no longer
//     hide anything go with them;
//   - chosen runs of layers are squashed into one (Options.Squash), the
//     config's rootfs.diff_ids and history following;
//   - rewritten layers are compressed with gzip (default) or zstd.
//
// It works in two reads of each original layer and never holds a layer's
// content in memory: Plan reads the tar headers and decides, entry by
// entry, what the new layers hold; Build streams each new layer from the
// original's tar through a compressor into one temporary file at a time.
// A layer with nothing to drop, already in the chosen compression, is
// reused byte for byte (same digest: nothing to upload).
//
// Before anything is written, the plan is checked by applying both the
// original and the new layers' entries, Docker's way, and comparing the
// two final file systems path by path (verify.go): a layer shape the
// planner does not handle is refused, never silently changed.
//
// What it never changes: the config (environment, entrypoint, command,
// user, labels…) except rootfs.diff_ids and history; any file's content,
// mode, owner or link target as a container sees it; the original image.
package optimize
