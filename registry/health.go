package registry

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
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
//
// The public /readyz shows each check's state only: a backend's error
// text (hosts, bucket and table names, credentials' owners) is for
// operators. It is logged when a check's outcome changes, and shown by
// the debug listener's /readyz (detailed).
type readiness struct {
	mu      sync.RWMutex
	names   []string
	checks  map[string]Check
	infos   map[string]func(context.Context) any // facts shown beside the checks ("info")
	timeout time.Duration
	logger  *slog.Logger

	lastMu sync.Mutex
	last   map[string]checkResult // outcome of each check's previous run
}

func newReadiness(timeout time.Duration, logger *slog.Logger) *readiness {
	return &readiness{checks: map[string]Check{}, infos: map[string]func(context.Context) any{}, timeout: timeout,
		logger: logger, last: map[string]checkResult{}}
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

// addInfo shows, under "info" in every /readyz answer, what info returns
// for name (facts operators read beside the checks, e.g. the scanner DB's
// age); it must hold nothing secret and return within ctx's deadline.
func (rd *readiness) addInfo(name string, info func(context.Context) any) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	rd.infos[name] = info
}

// checkResult is one line of the /readyz answer.
type checkResult struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// ServeHTTP is the public /readyz: states only, see serve.
func (rd *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) { rd.serve(w, r, false) }

// detailed is the debug listener's /readyz: states and error texts.
func (rd *readiness) detailed() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rd.serve(w, r, true) })
}

// serve answers 503 when a check fails and 200 otherwise ("ready", or
// "degraded" when a check reports degradation), with a JSON body giving
// each check's outcome, with its error text only when details is set.
// Checks run concurrently.
func (rd *readiness) serve(w http.ResponseWriter, r *http.Request, details bool) {
	status, body := rd.report(r.Context(), details)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// report runs the checks and infos: the HTTP status and the body of
// /readyz, whose "status" is ready, degraded or not ready.
func (rd *readiness) report(ctx context.Context, details bool) (int, map[string]any) {
	rd.mu.RLock()
	names := append([]string(nil), rd.names...)
	checks := make([]Check, len(names))
	for i, n := range names {
		checks[i] = rd.checks[n]
	}
	infos := make(map[string]func(context.Context) any, len(rd.infos))
	for n, f := range rd.infos {
		infos[n] = f
	}
	rd.mu.RUnlock()

	ctx, cancel := context.WithTimeout(ctx, rd.timeout)
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
			rd.logChange(ctx, name, res)
			mu.Lock()
			ready = ready && res.Status != "failing"
			degraded = degraded || res.Status == "degraded"
			if !details {
				res.Error = ""
			}
			results[name] = res
			mu.Unlock()
		})
	}
	info := make(map[string]any, len(infos))
	for name, f := range infos {
		wg.Go(func() {
			v := f(ctx)
			mu.Lock()
			info[name] = v
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
	body := map[string]any{"status": word, "checks": results}
	if len(info) > 0 {
		body["info"] = info
	}
	return status, body
}

// logChange logs a check's outcome when it differs from its previous one,
// so a failing backend is in the logs once, not once per probe.
func (rd *readiness) logChange(ctx context.Context, name string, res checkResult) {
	rd.lastMu.Lock()
	prev, seen := rd.last[name]
	rd.last[name] = res
	rd.lastMu.Unlock()
	if (seen || res.Status != "ok") && prev != res {
		rd.logger.WarnContext(ctx, "readiness check changed", "check", name, "status", res.Status, "error", res.Error)
	}
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
