// Package scan is the gate's view of a vulnerability scanner: what it is
// given (a Target read straight from registry storage), what it returns (a
// Report) and how readiness is told (Status). It imports no scanner; the
// Trivy implementation lives in scan/trivy so that packages depending only
// on this interface stay small.
package scan

import (
	"context"
	"errors"
	"io"

	"github.com/opencontainers/go-digest"
)

// Target is one single-platform image manifest to scan, read straight from
// registry storage. Pick the platform manifests out of an index first: an
// index has no filesystem.
type Target struct {
	// Repository is the repository name the manifest is pushed to; it names
	// the image in logs and reports.
	Repository string
	// Digest is the manifest digest.
	Digest digest.Digest
	// MediaType is the manifest media type: an OCI image manifest or a
	// Docker schema2 manifest.
	MediaType string
	// RawManifest is the manifest exactly as stored.
	RawManifest []byte
	// RawConfig is the image config blob the manifest references.
	RawConfig []byte
	// Layers are the manifest's layers in manifest order.
	Layers []Layer
	// Open opens a blob (compressed, as stored) by digest. A scanner calls
	// it only for layers it has not analysed before, with the ctx of the
	// Scan call, and closes what it opens.
	Open func(ctx context.Context, d digest.Digest) (io.ReadCloser, error)
}

// Layer is one layer descriptor of a Target's manifest.
type Layer struct {
	Digest    digest.Digest
	Size      int64
	MediaType string
}

// Scanner analyses images and matches their packages against a
// vulnerability database. Implementations are safe for concurrent use.
type Scanner interface {
	// Scan analyses t's layers and matches its packages against the
	// vulnerability DB. It returns an error wrapping ErrNoDB when no DB is
	// loaded, ErrInvalidTarget when t cannot be scanned, ErrClosed after
	// Close, and, when ctx ends first, an error wrapping ctx.Err() (and
	// ErrBusy as well if the scan never got a worker).
	Scan(ctx context.Context, t Target) (*Report, error)
	// Status reports the DB state for readiness; see Status.Err.
	Status(ctx context.Context) Status
	// Close stops background work, waits for running scans and releases
	// the DB and caches. Scan fails with ErrClosed afterwards.
	Close() error
}

var (
	// ErrNoDB means no vulnerability database is loaded, so nothing can be
	// scanned (yet).
	ErrNoDB = errors.New("scan: no vulnerability database loaded")
	// ErrInvalidTarget means the target is not a scannable image manifest
	// (wrong media type, config or layers not matching the manifest).
	ErrInvalidTarget = errors.New("scan: invalid target")
	// ErrBusy means no worker took the scan: it waited for one until its
	// context ended (then it is joined with the context's error), or a
	// scanner pool refused it at once because every scanner was full
	// (scan/remote).
	ErrBusy = errors.New("scan: all scan workers busy")
	// ErrUnreachable means no scanner of a pool answered at all
	// (scan/remote); errors wrapping it wrap ErrBusy as well.
	ErrUnreachable = errors.New("scan: no scanner reachable")
	// ErrInProgress means the caller stopped waiting while the scan goes on
	// in the background (scan/detach): asking again for the same manifest
	// later gets its result.
	ErrInProgress = errors.New("scan: still running")
	// ErrClosed means the scanner was closed.
	ErrClosed = errors.New("scan: scanner closed")
)
