package middleware

import (
	"context"
	"path"
	"strings"

	"github.com/distribution/distribution/v3"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/metadata"
)

// Wrap puts repo behind the gate, as the registered middleware does for a
// /v2/ request, for pushes arriving through another door (the tarball
// upload shim). Records of manifests put through the result name source.
// Like the middleware's wrapper, the result belongs to one request: it
// keeps that request's pending tagged push.
func (g *Gate) Wrap(repo distribution.Repository, source metadata.Source) distribution.Repository {
	return &repository{Repository: repo, gate: g, source: source}
}

// Gate stages an Observer is told about, in order.
const (
	StageValidating = "validating"
	StageScanning   = "scanning"
	StageStoring    = "storing"
)

// Observer follows one manifest put through the gate (the upload shim
// reports it as progress). Its methods are called synchronously from Put
// and must return quickly.
type Observer interface {
	// Stage is called as the put enters a stage (Stage* constants).
	Stage(name string)
	// Recorded is called with the put's record once the gate has written
	// it: pending (it passed, storing follows) or rejected.
	Recorded(rec metadata.Record)
}

type observerKey struct{}

// WithObserver returns ctx carrying o for the gated puts made with it.
func WithObserver(ctx context.Context, o Observer) context.Context {
	return context.WithValue(ctx, observerKey{}, o)
}

// observerOf is ctx's Observer, or one that ignores everything.
func observerOf(ctx context.Context) Observer {
	if o, ok := ctx.Value(observerKey{}).(Observer); ok && o != nil {
		return o
	}
	return ignore{}
}

type ignore struct{}

func (ignore) Stage(string)             {}
func (ignore) Recorded(metadata.Record) {}

type archiveKey struct{}

// WithArchive returns ctx carrying the original tarball of an upload (a
// path in the storage driver, its size and sha256): the push records of the
// gated puts made with ctx name it, with the Locator's bucket and key
// prefix — except a rejected one (the shim deletes a refused upload's
// archive).
func WithArchive(ctx context.Context, path string, size int64, dgst digest.Digest) context.Context {
	return context.WithValue(ctx, archiveKey{}, metadata.Archive{Key: path, Size: size, Digest: dgst})
}

// archiveOf is the archive ctx carries, located by l, or nil.
func archiveOf(ctx context.Context, l Locator) *metadata.Archive {
	a, ok := ctx.Value(archiveKey{}).(metadata.Archive)
	if !ok {
		return nil
	}
	a.Bucket, a.Key = l.Bucket, path.Join(l.KeyPrefix, strings.TrimPrefix(a.Key, "/"))
	return &a
}
