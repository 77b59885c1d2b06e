// Package remotetest runs a scanner pool in a test: a registry storage on
// the filesystem driver holding the images a test scans, scanner servers
// on httptest listeners reading that storage, and clients for them.
package remotetest

import (
	"context"
	"io"
	"net/http/httptest"
	"testing"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/scan"
	"github.com/imagegate/imagegate/scan/remote"
	"github.com/imagegate/imagegate/scan/scantest"
)

// Secret is the shared secret Serve and Client use.
const Secret = "remotetest-shared-secret-0123456789abcdef"

// Storage returns registry storage on a filesystem driver in a temporary
// directory, opened the way a scanner opens it.
func Storage(t testing.TB) distribution.Namespace {
	t.Helper()
	driver := filesystem.New(filesystem.DriverParameters{RootDirectory: t.TempDir(), MaxThreads: 16})
	ns, err := storage.NewRegistry(t.Context(), driver)
	if err != nil {
		t.Fatalf("remotetest: opening storage: %v", err)
	}
	return ns
}

// Add stores img's config and layer blobs into repo, as a push does
// before its manifest: the manifest itself is not stored.
func Add(t testing.TB, ns distribution.Namespace, repo string, img v1.Image) {
	t.Helper()
	ctx := context.WithoutCancel(t.Context())
	named, err := reference.WithName(repo)
	if err != nil {
		t.Fatalf("remotetest: %v", err)
	}
	r, err := ns.Repository(ctx, named)
	if err != nil {
		t.Fatalf("remotetest: repository %s: %v", repo, err)
	}
	blobs := scantest.NewBlobs()
	target := blobs.Target(t, repo, img)
	digests := []digest.Digest{}
	for _, l := range target.Layers {
		digests = append(digests, l.Digest)
	}
	digests = append(digests, digest.FromBytes(target.RawConfig))
	for _, d := range digests {
		rc, err := blobs.Open(ctx, d)
		if err != nil {
			t.Fatalf("remotetest: %v", err)
		}
		data, _ := io.ReadAll(rc)
		if _, err := r.Blobs(ctx).Put(ctx, "application/octet-stream", data); err != nil {
			t.Fatalf("remotetest: storing blob %s in %s: %v", d, repo, err)
		}
	}
}

// AddContractImages stores every image scantest.Contract scans, in the
// repositories it names.
func AddContractImages(t testing.TB, ns distribution.Namespace) {
	t.Helper()
	vulnerable := scantest.VulnerableImage(t)
	for _, img := range []v1.Image{vulnerable, scantest.AsDocker(t, vulnerable), scantest.CleanImage(t),
		scantest.WithLayer(t, vulnerable, map[string]string{"srv/app/hello.txt": "hello\n"})} {
		Add(t, ns, "scantest/contract", img)
	}
	Add(t, ns, "scantest/cancelled", vulnerable)
	Add(t, ns, "scantest/invalid", vulnerable)
}

// Serve starts a scanner server over opts (Blobs defaults to ns's
// storage, Secret to Secret) and returns its URL; it stops when t ends.
func Serve(t testing.TB, ns distribution.Namespace, opts remote.ServerOptions) string {
	t.Helper()
	if opts.Blobs == nil {
		opts.Blobs = remote.StorageBlobs(ns)
	}
	if opts.Secret == "" {
		opts.Secret = Secret
	}
	s, err := remote.NewServer(opts)
	if err != nil {
		t.Fatalf("remotetest: %v", err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}

// Client returns a client of the scanners at urls (Secret defaults to
// Secret), closed when t ends.
func Client(t testing.TB, opts remote.ClientOptions, urls ...string) *remote.Client {
	t.Helper()
	opts.URLs = append(opts.URLs, urls...)
	if opts.Secret == "" {
		opts.Secret = Secret
	}
	c, err := remote.NewClient(opts)
	if err != nil {
		t.Fatalf("remotetest: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// NoOpen is a Target.Open for the registry side of a pool: the scanner
// reads storage itself, so a call fails the test.
func NoOpen(t testing.TB) func(context.Context, digest.Digest) (io.ReadCloser, error) {
	return func(context.Context, digest.Digest) (io.ReadCloser, error) {
		t.Errorf("remotetest: the registry side opened a blob; the scanner must read storage itself")
		return nil, scan.ErrInvalidTarget
	}
}
