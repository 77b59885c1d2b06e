package dynamodb

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/imagegate/imagegate/internal/awsmetrics"
)

// TestClientMetrics: the store's DynamoDB requests are counted by
// operation and result (internal/awsmetrics): a record written twice is
// one PutItem ok and one PutItem conflict (its condition failed, as it
// must), not an error.
func TestClientMetrics(t *testing.T) {
	s := newTestStore(t, Config{})
	requests := awsmetrics.Collectors()[0].(*prometheus.CounterVec)
	count := func(op, result string) float64 {
		return testutil.ToFloat64(requests.WithLabelValues("dynamodb", op, result))
	}
	ok, conflicts, errs := count("PutItem", "ok"), count("PutItem", "conflict"), count("PutItem", "client_error")
	r := testRecord("team/metrics", time.Now())
	for range 2 {
		if err := s.Put(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if got := count("PutItem", "ok") - ok; got != 1 {
		t.Errorf("%v PutItem ok, want 1", got)
	}
	if got := count("PutItem", "conflict") - conflicts; got != 1 {
		t.Errorf("%v PutItem conflict, want 1", got)
	}
	if got := count("PutItem", "client_error") - errs; got != 0 {
		t.Errorf("%v PutItem client errors, want 0", got)
	}
}
