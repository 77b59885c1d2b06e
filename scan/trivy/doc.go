// Package trivy implements scan.Scanner with Trivy v0.74.0 run in-process
// and offline: images are read straight from registry storage through
// scan.Target.Open (no pull, no temporary copy of the image), layer analyses
// are cached on disk by layer so a shared base layer is analysed once, and
// the vulnerability DB is either prepared out of band or downloaded with
// Trivy's own downloader from an OCI repository and swapped in while no scan
// runs.
//
// Trivy keeps its vulnerability DB in one process-global handle, so a
// process can have only one open Scanner at a time. This is the only
// package of imagegate that imports Trivy.
package trivy
