package s3

import (
	"context"
	"errors"
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/imagegate/imagegate/internal/awsmetrics"
)

// TestDriverMetrics: the driver's S3 requests are counted and timed
// (internal/awsmetrics): a write, a read and a Stat of a missing path show
// as ok and not_found operations.
func TestDriverMetrics(t *testing.T) {
	endpoint := testEndpoint(t)
	d := newTestDriver(t, testParams(endpoint, newTestBucket(t, endpoint), nil))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(awsmetrics.Collectors()...)
	requests := awsmetrics.Collectors()[0].(*prometheus.CounterVec)
	count := func(op, result string) float64 {
		return testutil.ToFloat64(requests.WithLabelValues("s3", op, result))
	}
	puts, misses := count("PutObject", "ok"), count("HeadObject", "not_found")

	ctx := context.Background()
	if err := d.PutContent(ctx, "/metrics/a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := d.GetContent(ctx, "/metrics/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Stat(ctx, "/metrics/missing"); !errors.As(err, new(storagedriver.PathNotFoundError)) {
		t.Fatalf("Stat of a missing path: %v", err)
	}
	if got := count("PutObject", "ok") - puts; got != 1 {
		t.Errorf("%v PutObject counted ok, want 1", got)
	}
	if got := count("HeadObject", "not_found") - misses; got != 1 {
		t.Errorf("%v HeadObject counted not_found, want 1 (the Stat)", got)
	}
	if n, err := testutil.GatherAndCount(reg, "imagegate_aws_request_duration_seconds"); err != nil || n == 0 {
		t.Errorf("no S3 latency series (%v)", err)
	}
}
