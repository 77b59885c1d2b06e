package registry

import (
	"net/http"
	"testing"
	"time"

	"github.com/imagegate/imagegate/config"
)

// TestEMFFromServerMetrics: with log.emf on, the server's own request
// metrics come out as EMF documents in the configured namespace, with the
// route, method and status as dimensions and the replica as a property;
// a counter is the increase since the previous emission, a histogram
// comes with its distribution.
func TestEMFFromServerMetrics(t *testing.T) {
	out := &syncBuffer{}
	s := startServer(t, func(c *config.Config) {
		c.Debug.Metrics = false // EMF alone turns the request metrics on
		c.Log.EMF = config.EMF{Enabled: true, Interval: time.Hour, Namespace: "imagegate-test",
			Metrics: []string{"imagegate_http_requests_total", "imagegate_http_request_duration_seconds"}}
	}, WithEMFWriter(out))
	for range 3 {
		if status, _, _ := do(t, http.MethodGet, s.base+"/v2/", nil, nil); status != http.StatusOK {
			t.Fatalf("GET /v2/: %d", status)
		}
	}
	seen := 0 // documents read by earlier emissions
	count := func() (float64, map[string]any) {
		t.Helper()
		if err := s.emf.emit(time.Now()); err != nil {
			t.Fatal(err)
		}
		docs := out.lines(t)
		var found map[string]any
		for _, doc := range docs[seen:] {
			if doc["route"] == "base" && doc["method"] == "GET" && doc["status"] == "200" {
				found = doc
			}
		}
		seen = len(docs)
		if found == nil {
			t.Fatalf("no EMF document for GET /v2/ 200 in %v", docs)
		}
		n, _ := found["imagegate_http_requests_total"].(float64)
		return n, found
	}
	n, doc := count()
	if n != 3 {
		t.Errorf("first emission: %v requests, want 3", n)
	}
	if doc["replica"] == nil || doc["replica"] == "" {
		t.Errorf("no replica property: %v", doc)
	}
	directive := doc["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if directive["Namespace"] != "imagegate-test" {
		t.Errorf("namespace %v", directive["Namespace"])
	}
	// The duration histogram comes as its distribution: the 3 requests.
	if d, ok := doc["imagegate_http_request_duration_seconds"].(map[string]any); !ok || d["Count"] != 3.0 || len(d["Values"].([]any)) == 0 {
		t.Errorf("duration distribution: %v", doc["imagegate_http_request_duration_seconds"])
	}
	if n, _ := count(); n != 0 {
		t.Errorf("second emission without requests: %v, want 0", n)
	}
}
