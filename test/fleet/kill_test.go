package fleet

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagegate/imagegate/metadata"
)

// Bounds of the waits after a kill.
const (
	// sweepWait bounds the wait for the sweeper to resolve a pending
	// record: its grace (metadata.sweep.grace: 2m, the shortest allowed)
	// plus its interval (5s) plus slack.
	sweepWait = 3 * time.Minute
	// takeoverWait bounds the wait for a dead replica's webhook to be
	// delivered by another replica (a lease expiring, then a retry).
	takeoverWait = 3 * time.Minute
)

// TestKill kills replicas with SIGKILL in the middle of pushes and of a
// webhook delivery, on a fleet of its own (each replica's DynamoDB traffic
// through a killSwitch), one after the other:
//
//   - blob upload: the replica taking a large layer's PATCH dies part-way;
//   - pending record: the replica taking the manifest PUT dies right after
//     writing the push's pending record;
//   - webhook: the replica delivering an accepted push's event dies while
//     the receiver holds the delivery (not restarted: its disk is gone).
//
// Each time the client's retry through HAProxy succeeds and the image is
// served; the webhook is delivered again with the same idempotency key by
// another replica; and in the end no record is left pending after a sweep
// — the interrupted one resolved as failed or accepted by the sweeper.
func TestKill(t *testing.T) {
	t.Parallel()
	hooks := newHookReceiver(t)
	var switches *killSwitch
	f := startFleet(t, options{
		dynamoDB: func(i int, real string) string {
			if switches == nil {
				switches = newKillSwitch(t, real)
			}
			return switches.proxy(t, i)
		},
		extraYAML: func(i int) string { return notificationsYAML(hooks, i) },
	})
	t.Run("blob upload", func(t *testing.T) { testKillBlobUpload(t, f) })
	t.Run("pending record", func(t *testing.T) { testKillPending(t, f, switches) })
	t.Run("webhook", func(t *testing.T) { testKillWebhook(t, f, hooks) })
	t.Run("sweep", func(t *testing.T) { testSweep(t, f) })
}

// rootAuth is root's credentials for go-containerregistry.
var rootAuth = remote.WithAuth(&authn.Basic{Username: "root", Password: users["root"]})

// testKillBlobUpload: a 32 MiB layer is pushed through HAProxy; once half
// of its PATCH has reached a replica, that replica is killed. The push is
// then retried and must succeed; the image is served through HAProxy.
func testKillBlobUpload(t *testing.T, f *fleet) {
	layer, err := random.Layer(32<<20, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		t.Fatal(err)
	}
	ref := mustRef(t, f.lb.Addr+"/kill/blob:v1")
	gate := &patchGate{after: 16 << 20, release: make(chan struct{}), reached: make(chan struct{})}
	pushed := make(chan error, 1)
	go func() {
		pushed <- remote.Write(ref, img, rootAuth, remote.WithTransport(gate), remote.WithContext(t.Context()))
	}()
	select {
	case <-gate.reached:
	case err := <-pushed:
		t.Fatalf("the push ended before its layer was half sent: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("the layer's PATCH never got half way")
	}
	// The replica with a request in flight is the one taking the PATCH:
	// the client sends nothing else while it uploads its only layer (the
	// config blob went first; the manifest waits for the layer).
	victim := f.lb.waitServer(t, "with the PATCH in flight", 30*time.Second, func(s serverStat) bool { return s.Sessions > 0 })
	i := replicaNumber(t, victim)
	f.replicas[i].Kill(t)
	close(gate.release)
	err = <-pushed
	t.Logf("push with %s killed part-way through the layer: %v", victim, err)

	pushRetrying(t, ref, img)
	f.replicas[i].Restart(t)
	f.lb.waitStatus(t, victim, "UP", 30*time.Second)
}

// testKillPending: the replica taking a manifest PUT is killed right after
// it wrote the push's pending record. The retry through HAProxy succeeds
// on another replica; the dead replica's record stays pending (for the
// sweep to resolve).
func testKillPending(t *testing.T, f *fleet, switches *killSwitch) {
	img, err := random.Image(64<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	const repo = "kill/pending"
	fired := switches.arm(repo, func(i int) { f.replicas[i].Kill(t) })
	ref := mustRef(t, f.lb.Addr+"/"+repo+":v1")
	err = remote.Write(ref, img, rootAuth, remote.WithContext(t.Context()))
	t.Logf("push whose replica died after writing its pending record: %v", err)
	var i int
	select {
	case i = <-fired:
	case <-time.After(30 * time.Second):
		t.Fatal("no replica wrote a pending record for the push (the kill switch never fired)")
	}
	pushRetrying(t, ref, img)

	rs := records(t, f.lb.Addr, repo)
	pending := 0
	for _, r := range rs {
		if r.Status == metadata.StatusPending {
			pending++
		}
	}
	if pending != 1 {
		t.Errorf("records of %s: want exactly one pending (the dead replica's):%s", repo, describe(rs))
	}
	f.replicas[i].Restart(t)
	f.lb.waitStatus(t, "replica"+strconv.Itoa(i+1), "UP", 30*time.Second)
}

// testKillWebhook: the replica delivering an accepted push's webhook is
// killed while the receiver holds the delivery, and is not brought back
// (its disk is lost with it). Another replica must deliver the event,
// with the same idempotency key.
//
// Intended behaviour of issue #13 (the webhook outbox in the shared store,
// with leases); it fails while each replica's outbox is a local file.
func testKillWebhook(t *testing.T, f *fleet, hooks *hookReceiver) {
	img, err := random.Image(64<<10, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(mustRef(t, f.lb.Addr+"/hook/app:v1"), img, rootAuth, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	var first delivery
	select {
	case first = <-hooks.held:
	case <-time.After(time.Minute):
		t.Fatal("no webhook delivery within a minute of an accepted push to hook/app")
	}
	i, err := strconv.Atoi(first.Replica)
	if err != nil || i < 1 || i > len(f.replicas) || first.Key == "" {
		t.Fatalf("first delivery %+v: no replica number or idempotency key", first)
	}
	f.replicas[i-1].Kill(t)
	f.lb.waitStatus(t, "replica"+first.Replica, "DOWN", 30*time.Second)
	again, ok := hooks.waitDelivery(t, first.Key, first.Replica, takeoverWait)
	if !ok {
		t.Fatalf("the event %s whose delivery died with replica %s was not delivered by another replica within %v",
			first.Key, first.Replica, takeoverWait)
	}
	t.Logf("event %s delivered again by replica %s after replica %s died", again.Key, again.Replica, first.Replica)
}

// testSweep waits (bounded by sweepWait) until no record of the fleet is
// pending, then checks that the interrupted push's record was resolved by
// the sweeper.
func testSweep(t *testing.T, f *fleet) {
	ctx, cancel := context.WithTimeout(t.Context(), sweepWait)
	defer cancel()
	start := time.Now()
	for {
		rs := records(t, f.lb.Addr, "pending")
		if len(rs) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("records still pending %v after the kills:%s", sweepWait, describe(rs))
		case <-time.After(5 * time.Second):
		}
	}
	t.Logf("no record pending after %v", time.Since(start).Round(time.Second))
	swept := 0
	for _, r := range records(t, f.lb.Addr, "kill/pending") {
		switch {
		case r.Status == metadata.StatusPending:
			t.Errorf("record %s still pending", r.ID)
		case strings.HasPrefix(r.Reason, "resolved by the sweeper"):
			swept++
		}
	}
	if swept != 1 {
		t.Errorf("%d records of kill/pending resolved by the sweeper, want 1", swept)
	}
}

// pushRetrying pushes img to ref the way a client retries after a failed
// push — up to three attempts through HAProxy, a fresh one each time — and
// fails the test unless one succeeds and HAProxy then serves img's digest.
func pushRetrying(t *testing.T, ref name.Reference, img v1.Image) {
	t.Helper()
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		if err = remote.Write(ref, img, rootAuth, remote.WithContext(t.Context())); err == nil {
			break
		}
		t.Logf("retry %d of the push to %s: %v", attempt, ref, err)
	}
	if err != nil {
		t.Fatalf("the push to %s never succeeded: %v", ref, err)
	}
	desc, err := remote.Head(ref, rootAuth, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("HEAD %s after the retry: %v", ref, err)
	}
	if want := digestOf(t, img); desc.Digest.String() != want {
		t.Errorf("%s serves %s after the retry, pushed %s", ref, desc.Digest, want)
	}
}

// patchGate is an http.RoundTripper that lets the first PATCH carrying a
// body send its first `after` bytes, then holds the rest until release is
// closed (reached is closed when it starts holding): a client on a link
// that stalls, so the test can act while the upload is in flight.
type patchGate struct {
	after   int64
	release chan struct{}
	reached chan struct{}
	once    sync.Once
	used    bool
	mu      sync.Mutex
}

func (g *patchGate) RoundTrip(r *http.Request) (*http.Response, error) {
	g.mu.Lock()
	// Only a PATCH that may be longer than after: the config blob's
	// small PATCH may race ahead of the layer's (blobs upload concurrently).
	gated := !g.used && r.Method == http.MethodPatch && r.Body != nil && (r.ContentLength < 0 || r.ContentLength > g.after)
	if gated {
		g.used = true
	}
	g.mu.Unlock()
	if gated {
		r.Body = &gatedBody{ReadCloser: r.Body, g: g}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// gatedBody is a request body held by its patchGate after g.after bytes.
type gatedBody struct {
	io.ReadCloser
	g    *patchGate
	sent int64
}

func (b *gatedBody) Read(p []byte) (int, error) {
	if b.sent >= b.g.after {
		b.g.once.Do(func() { close(b.g.reached) })
		<-b.g.release
	} else if rest := b.g.after - b.sent; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := b.ReadCloser.Read(p)
	b.sent += int64(n)
	return n, err
}

// replicaNumber turns HAProxy's server name (replica1 …) into an index of
// fleet.replicas.
func replicaNumber(t *testing.T, server string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimPrefix(server, "replica"))
	if err != nil || n < 1 {
		t.Fatalf("HAProxy server %q is not replicaN", server)
	}
	return n - 1
}

// mustRef parses ref (plain HTTP).
func mustRef(t testing.TB, ref string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
