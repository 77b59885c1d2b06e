package retention

import (
	"context"
	"slices"
	"testing"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/internal/testutil/s3test"
	"github.com/imagegate/imagegate/lifecycle"
	"github.com/imagegate/imagegate/storagedriver/s3"
)

// TestPlanListsRepositoriesByName: the plan lists its repositories sorted
// by name, as Plan documents, on both drivers. Names that differ by '-',
// '.', '_' and '/' walk in different orders: by path component on the
// filesystem ("ret/a/b" before "ret/a-b"), by object key on S3 ("ret/a-b"
// before "ret/a"); the plan followed the walk, so it came out in neither
// name order nor the same order on the two drivers.
func TestPlanListsRepositoriesByName(t *testing.T) {
	repos := []string{"ret/a", "ret/a-b", "ret/a.b", "ret/a/b", "ret/a0", "ret/a_b"}
	want := slices.Sorted(slices.Values(repos))
	for _, name := range []string{"filesystem", "s3"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			var driver storagedriver.StorageDriver
			if name == "s3" {
				_, bucket, endpoint := s3test.Bucket(t, "imagegate-retorder-")
				cfg := s3.NewConfig()
				cfg.Bucket, cfg.Region, cfg.RegionEndpoint, cfg.ForcePathStyle = bucket, s3test.Region, endpoint, true
				cfg.RootDirectory, cfg.AccessKey, cfg.SecretKey = "/registry", s3test.AccessKey, s3test.SecretKey
				d, err := s3.New(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				driver = d
			} else {
				driver = filesystem.New(filesystem.DriverParameters{RootDirectory: t.TempDir(), MaxThreads: 100})
			}
			ns, err := storage.NewRegistry(ctx, driver, storage.EnableDelete)
			if err != nil {
				t.Fatal(err)
			}
			rules, err := lifecycle.NewRetention([]lifecycle.RetentionRule{{Repositories: "ret/**", KeepLast: 1}})
			if err != nil {
				t.Fatal(err)
			}
			s := New(Options{Namespace: ns, Driver: driver, Rules: rules, MaxDeletions: 10,
				Guard: func(r distribution.Repository) distribution.Repository { return r }})
			for _, repo := range repos {
				r, err := s.repository(ctx, repo)
				if err != nil {
					t.Fatal(err)
				}
				// A revision link makes the catalog list the repository.
				if err := driver.PutContent(ctx, "/docker/registry/v2/repositories/"+repo+"/_manifests/revisions/sha256/"+
					digest.FromString(repo).Encoded()+"/link", []byte(digest.FromString(repo))); err != nil {
					t.Fatal(err)
				}
				if err := r.Tags(ctx).Tag(ctx, "v1", v1.Descriptor{Digest: digest.FromString(repo)}); err != nil {
					t.Fatal(err)
				}
			}
			p, err := s.Plan(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, rp := range p.Repositories {
				got = append(got, rp.Repository)
			}
			if !slices.Equal(got, want) {
				t.Errorf("plan lists %q; want %q", got, want)
			}
		})
	}
}
