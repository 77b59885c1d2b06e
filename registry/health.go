package registry

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/imagegate/imagegate/internal/health"
)

// Check is a readiness check; see health.Check.
type Check = health.Check

// readiness runs named checks for /readyz. Checks can be added while the
// server runs (later subsystems register theirs at start-up).
type readiness struct {
	mu      sync.RWMutex
	names   []string
	checks  map[string]Check
	timeout time.Duration
}

func newReadiness(timeout time.Duration) *readiness {
	return &readiness{checks: map[string]Check{}, timeout: timeout}
}

// add registers check under name, replacing any check of that name.
func (rd *readiness) add(name string, check Check) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if _, ok := rd.checks[name]; !ok {
		rd.names = append(rd.names, name)
	}
	rd.checks[name] = check
}

// checkResult is one line of the /readyz answer.
type checkResult struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// ServeHTTP answers 503 when a check fails and 200 otherwise ("ready", or
// "degraded" when a check reports degradation), with a JSON body giving each
// check's outcome. Checks run concurrently.
func (rd *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rd.mu.RLock()
	names := append([]string(nil), rd.names...)
	checks := make([]Check, len(names))
	for i, n := range names {
		checks[i] = rd.checks[n]
	}
	rd.mu.RUnlock()

	ctx, cancel := context.WithTimeout(r.Context(), rd.timeout)
	defer cancel()
	results := make(map[string]checkResult, len(names))
	var mu sync.Mutex
	var wg sync.WaitGroup
	ready, degraded := true, false
	for i, name := range names {
		wg.Go(func() {
			res := checkResult{Status: "ok"}
			switch err := checks[i](ctx); {
			case err == nil:
			case health.IsDegraded(err):
				res = checkResult{Status: "degraded", Error: err.Error()}
			default:
				res = checkResult{Status: "failing", Error: err.Error()}
			}
			mu.Lock()
			results[name] = res
			ready = ready && res.Status != "failing"
			degraded = degraded || res.Status == "degraded"
			mu.Unlock()
		})
	}
	wg.Wait()

	status, word := http.StatusOK, "ready"
	if degraded {
		word = "degraded"
	}
	if !ready {
		status, word = http.StatusServiceUnavailable, "not ready"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": word, "checks": results})
}

// storageCheck passes when the storage driver answers a Stat of its root;
// a root that does not exist yet (nothing pushed) still counts as reachable.
func storageCheck(d storagedriver.StorageDriver) Check {
	return func(ctx context.Context) error {
		_, err := d.Stat(ctx, "/")
		if errors.As(err, new(storagedriver.PathNotFoundError)) {
			return nil
		}
		return err
	}
}

// serveLiveness answers /healthz: the process is up and serving.
func serveLiveness(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(`{"status":"alive"}` + "\n"))
}
