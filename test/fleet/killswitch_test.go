package fleet

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// killSwitch puts a transparent HTTP proxy between each replica and
// DynamoDB Local that can kill a replica at an exact point: right after
// DynamoDB has stored the pending record of a push to the armed
// repository, before the replica hears back. That is the window a crash
// leaves a record pending in (push.Sweeper resolves it); no timing could
// hit it reliably. Every other request passes through untouched. It fires
// once per arming, for whichever replica gets there first.
type killSwitch struct {
	upstream *httputil.ReverseProxy

	mu    sync.Mutex
	repo  string     // armed for pushes to this repository; "" when not armed
	fire  func(int)  // kills replica i
	fired chan<- int // gets the replica killed
}

// newKillSwitch returns a kill switch in front of the DynamoDB endpoint
// upstream.
func newKillSwitch(t *testing.T, upstream string) *killSwitch {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	return &killSwitch{upstream: httputil.NewSingleHostReverseProxy(u)}
}

// proxy starts replica i's proxy and returns its URL (the replica's
// DynamoDB endpoint); it stops when the test ends.
func (k *killSwitch) proxy(t *testing.T, i int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		fire := k.matches(r.Header.Get("X-Amz-Target"), body)
		if fire == nil {
			k.upstream.ServeHTTP(w, r)
			return
		}
		k.upstream.ServeHTTP(httptest.NewRecorder(), r) // DynamoDB stores the pending record…
		fire(i)                                         // …and the replica dies before it hears so.
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// arm makes the next pending record of a push to repo kill its replica
// with fire; the returned channel then gets the replica's index.
func (k *killSwitch) arm(repo string, fire func(int)) <-chan int {
	k.mu.Lock()
	defer k.mu.Unlock()
	fired := make(chan int, 1)
	k.repo, k.fire, k.fired = repo, fire, fired
	return fired
}

// matches returns the armed kill when the DynamoDB request (its
// X-Amz-Target and JSON body) writes a pending record of the armed
// repository, disarming the switch; nil otherwise.
func (k *killSwitch) matches(target string, body []byte) func(int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.repo == "" || !(strings.HasSuffix(target, ".PutItem") || strings.HasSuffix(target, ".TransactWriteItems")) ||
		!bytes.Contains(body, []byte(`"gsi_pending"`)) || !bytes.Contains(body, []byte(`"`+k.repo+`"`)) {
		return nil
	}
	fire, fired := k.fire, k.fired
	k.repo, k.fire = "", nil
	return func(i int) {
		fire(i)
		fired <- i
	}
}
