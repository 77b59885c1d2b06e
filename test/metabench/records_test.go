package metabench

import (
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/metadata"
)

// The records of the filled store: one every second from base; every
// tenth in hotRepo (a large repository: 100,000 of 1,000,000), the others
// spread over smallRepos repositories; users round robin over users.
const (
	hotRepo    = "bench/hot"
	smallRepos = 1000
	users      = 100
)

var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// repoOf and userOf say where record n goes.
func repoOf(n int) string {
	if n%10 == 0 {
		return hotRepo
	}
	return fmt.Sprintf("bench/app-%03d", n%smallRepos)
}

func userOf(n int) string { return fmt.Sprintf("user-%02d", n%users) }

// fillRecord returns record n of the filled store: received at base+n
// seconds, its id time-ordered and unique by n.
func fillRecord(n int) *metadata.Record {
	at := base.Add(time.Duration(n) * time.Second)
	floor := metadata.IDFloor(at)
	r := pushRecord(fmt.Sprintf("%s%012x", floor[:24], n), n, repoOf(n), userOf(n))
	r.ReceivedAt = at
	return r
}

// newRecord returns a record with a fresh id (now), for the write
// measurements: never an idempotent retry of an earlier one.
func newRecord(n int) *metadata.Record {
	r := pushRecord(metadata.NewID(), n, "bench/writes", "writer")
	r.ReceivedAt = time.Now().UTC()
	return r
}

// pushRecord is a typical accepted push: one layer, one platform, a few
// hundred bytes of JSON.
func pushRecord(id string, n int, repo, user string) *metadata.Record {
	d := digestOf(fmt.Sprintf("manifest-%d", n))
	layer := metadata.Blob{Digest: digestOf(fmt.Sprint("layer-", n)), Size: 1000 + int64(n),
		MediaType: "application/vnd.oci.image.layer.v1.tar+gzip"}
	cfg := metadata.Blob{Digest: digestOf(fmt.Sprint("config-", n)), Size: 300,
		MediaType: "application/vnd.oci.image.config.v1+json"}
	return &metadata.Record{
		ID: id, Kind: metadata.KindPush, Repository: repo, Tags: []string{fmt.Sprintf("v%d", n)},
		Digest: d, MediaType: "application/vnd.oci.image.manifest.v1+json",
		Platforms: []metadata.Platform{{OS: "linux", Architecture: "amd64"}},
		Size:      500 + cfg.Size + layer.Size, LayerCount: 1, Config: &cfg, Layers: []metadata.Blob{layer},
		User:     metadata.User{Subject: user, Method: "password", Roles: []string{"developer"}},
		ClientIP: "192.0.2.10", UserAgent: "docker/27.0", RequestID: fmt.Sprint("req-", n),
		Source: metadata.SourceDockerPush,
		Storage: metadata.Location{Driver: "filesystem", Root: "/data", ManifestKey: "blobs/" + d.Encoded(),
			BlobKeys: map[string]string{layer.Digest.String(): "blobs/" + layer.Digest.Encoded()}},
		Status: metadata.StatusAccepted,
	}
}

func digestOf(s string) digest.Digest {
	sum := sha256.Sum256([]byte(s))
	return digest.NewDigestFromBytes(digest.SHA256, sum[:])
}
