// Package ingest stores the bodies of blob uploads (PATCH, and PUT with a
// body) for distribution: reading the body, hashing it and writing it to
// the upload's file run on three goroutines with 4 MiB buffers, where
// distribution's blob writer does all three in turn, 32 KiB at a time, on
// the request's goroutine (docs/performance.md). With imagegate's
// filesystem driver the buffers the body is read into are the ones the
// driver writes from (O_DIRECT, no copy in between: copy.go's
// directWriter).
//
// It is a repository middleware, the innermost, so a body reaches it only
// after distribution has authorized the request, verified the upload's
// signed _state, resumed the upload at the state's offset and checked the
// Content-Range, and after the gate's middleware had its say. It writes the
// same files distribution would — the upload's data and the sha256 state
// at the new size, through the storage driver's API — and hands the upload
// back to distribution's writer, which answers the PATCH or commits the
// PUT (digest check included) as if it had stored the body itself.
package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/configuration"
	repositorymiddleware "github.com/distribution/distribution/v3/registry/middleware/repository"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

const (
	registeredName = "imagegate-ingest"
	optionIngester = "ingester"
)

func init() {
	if err := repositorymiddleware.Register(registeredName, initRepository); err != nil {
		panic(err)
	}
}

// Ingester stores upload bodies through a storage driver.
type Ingester struct {
	driver storagedriver.StorageDriver
	logger *slog.Logger
	locks  uploadLocks
	// bodies counts the bodies stored by the parallel copy (tests read it).
	bodies atomic.Int64
	// hashed counts the Hashed uploads committed (tests read it).
	hashed atomic.Int64
	// served counts the blobs served from an *os.File, servedBytes the
	// body bytes they sent (ServeStats).
	served, servedBytes atomic.Int64
	// taps holds the sinks of the uploads tapped (WithTap, taps.go).
	taps taps
}

// New returns an Ingester writing through driver, which must address the
// same storage as the driver distribution's App writes with.
func New(driver storagedriver.StorageDriver, logger *slog.Logger, opts ...Option) *Ingester {
	in := &Ingester{driver: driver, logger: logger}
	for _, o := range opts {
		o(in)
	}
	return in
}

// Middleware is the distribution configuration entry that installs in on
// a repository; list it first, so that it is the innermost wrapper.
func (in *Ingester) Middleware() configuration.Middleware {
	return configuration.Middleware{Name: registeredName, Options: configuration.Parameters{optionIngester: in}}
}

func initRepository(_ context.Context, repo distribution.Repository, options map[string]any) (distribution.Repository, error) {
	in, ok := options[optionIngester].(*Ingester)
	if !ok || in == nil {
		return nil, fmt.Errorf("middleware %s: option %q must hold an *ingest.Ingester (install it with Ingester.Middleware)", registeredName, optionIngester)
	}
	return &repository{Repository: repo, in: in}, nil
}

// repository hands out blob stores whose resumed uploads take bodies
// through the Ingester.
type repository struct {
	distribution.Repository
	in *Ingester
}

// Blobs implements distribution.Repository.
func (r *repository) Blobs(ctx context.Context) distribution.BlobStore {
	return &blobStore{BlobStore: r.Repository.Blobs(ctx), repo: r.Named().Name(), in: r.in}
}

// blobStore is distribution's blob store, its resumed uploads wrapped.
// (A new upload, Create, is distribution's: POST carries no body there.)
type blobStore struct {
	distribution.BlobStore
	repo string
	in   *Ingester
}

// Resume implements distribution.BlobIngester.
func (b *blobStore) Resume(ctx context.Context, id string) (distribution.BlobWriter, error) {
	return resume(ctx, b.BlobStore, b.in, b.repo, id)
}
