package gc_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/fleet"
	fleetdynamodb "github.com/imagegate/imagegate/fleet/dynamodb"
	"github.com/imagegate/imagegate/gc"
	metadatadynamodb "github.com/imagegate/imagegate/metadata/dynamodb"
)

// BenchmarkFenceManifestPut is the fleet store work of one manifest PUT
// (push/gcrefs.go): touch the manifest's own digest and the config plus
// three layers it references, read their tombstones, write the
// references entry. On the in-memory store (in turn, as a single node
// runs it, and in parallel), and on DynamoDB Local when
// IMAGEGATE_TEST_DYNAMODB_ENDPOINT names one (scripts/netns-tests.sh):
//
//	go test -run '^$' -bench BenchmarkFenceManifestPut -benchtime 200x ./gc/
func BenchmarkFenceManifestPut(b *testing.B) {
	b.Run("memory", func(b *testing.B) { benchFence(b, fleet.NewMemory(0), 1) })
	b.Run("memory-parallel", func(b *testing.B) { benchFence(b, fleet.NewMemory(0), gc.TouchParallelism) })
	b.Run("dynamodb", func(b *testing.B) {
		endpoint := os.Getenv("IMAGEGATE_TEST_DYNAMODB_ENDPOINT")
		if endpoint == "" {
			b.Skip("IMAGEGATE_TEST_DYNAMODB_ENDPOINT is not set (DynamoDB Local)")
		}
		suffix := make([]byte, 4)
		_, _ = rand.Read(suffix)
		s, err := fleetdynamodb.New(b.Context(), metadatadynamodb.Config{
			Table: "imagegate-fence-bench-" + hex.EncodeToString(suffix), Endpoint: endpoint, CreateTable: true})
		if err != nil {
			b.Fatal(err)
		}
		benchFence(b, s, gc.TouchParallelism)
	})
}

func benchFence(b *testing.B, store fleet.Store, parallel int) {
	f := gc.NewFence(store, 24*time.Hour, nil)
	f.SetParallelism(parallel)
	refs := gc.NewRefs(store)
	var blobs []digest.Digest
	for i := range 4 {
		blobs = append(blobs, digest.FromString(fmt.Sprintf("blob %d", i)))
	}
	i := 0
	for b.Loop() {
		m := digest.FromString(fmt.Sprintf("manifest %d", i))
		i++
		e := gc.Entry{Repository: "team/app", Manifest: m, Blobs: append([]digest.Digest{m}, blobs...), Written: time.Now()}
		if err := f.TouchAll(b.Context(), gc.Touches{Kind: gc.KindSelf, Digests: []digest.Digest{m}},
			gc.Touches{Kind: gc.KindRef, Digests: e.Referenced()}); err != nil {
			b.Fatal(err)
		}
		if err := refs.Put(b.Context(), e); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/put")
}
