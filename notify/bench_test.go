package notify

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/imagegate/imagegate/metadata"
)

// BenchmarkPublish measures what a push pays for its event: the durable
// outbox write (one fsynced bbolt batch shared by concurrent pushes).
func BenchmarkPublish(b *testing.B) {
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer rcv.Close()
	n, err := New(Options{Endpoints: []Endpoint{{Name: "ci", URL: rcv.URL, Secret: []byte(secret)}},
		OutboxPath: filepath.Join(b.TempDir(), "out.db"), MaxAttempts: 5, Concurrency: 8})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	rec := pushRecord("team/app", metadata.StatusAccepted)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n.Publish(context.Background(), rec)
		}
	})
}
