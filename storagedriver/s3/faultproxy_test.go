package s3

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultProxy is an HTTP proxy in front of the S3 server that injects the
// faults real networks and S3 produce. It forwards requests unchanged (Host
// included, so SigV4 signatures stay valid) unless a fault is drawn:
//
//   - failRate: the request is not forwarded and is answered 500
//     InternalError, 503 SlowDown, or with a TCP reset, in equal shares;
//   - lostRate: the request is forwarded and processed, then its response
//     is replaced by a TCP reset (the client cannot know it succeeded);
//   - truncateRate: a GET response is cut off (reset) halfway through its
//     body;
//   - corruptBodies: the next N upload bodies (PutObject, UploadPart) get
//     one byte flipped on the way to S3;
//   - corruptReportedChecksums: the x-amz-checksum-* headers of upload
//     responses are replaced, as if S3 had stored other bytes;
//   - stallNext: the next N requests wait stallFor before being forwarded
//     (a hung server), unless the client gives up first.
//
// It counts what it did and what S3 answered (by error code).
type faultProxy struct {
	upstream  *url.URL
	server    *httptest.Server
	transport *http.Transport

	mu                       sync.Mutex
	rnd                      *rand.Rand
	failRate                 float64
	lostRate                 float64
	truncateRate             float64
	corruptBodies            int
	corruptReportedChecksums bool
	stallNext                int
	stallFor                 time.Duration
	counts                   map[string]int
}

func newFaultProxy(tb testing.TB, endpoint string) *faultProxy {
	tb.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		tb.Fatal(err)
	}
	p := &faultProxy{
		upstream:  u,
		transport: &http.Transport{MaxIdleConnsPerHost: 64},
		rnd:       rand.New(rand.NewPCG(1, 2)),
		counts:    map[string]int{},
	}
	p.server = httptest.NewServer(p)
	tb.Cleanup(func() {
		p.server.Close()
		p.transport.CloseIdleConnections()
	})
	return p
}

// URL is the proxy's endpoint.
func (p *faultProxy) URL() string { return p.server.URL }

// set changes the fault settings under the lock.
func (p *faultProxy) set(f func(p *faultProxy)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

// count returns the counter name.
func (p *faultProxy) count(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[name]
}

func (p *faultProxy) inc(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts[name]++
}

// draw returns true with probability rate.
func (p *faultProxy) draw(rate float64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return rate > 0 && p.rnd.Float64() < rate
}

func (p *faultProxy) intN(n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rnd.IntN(n)
}

func isUpload(r *http.Request) bool {
	return r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") == "" && r.ContentLength > 0
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.inc("requests")
	p.mu.Lock()
	failRate, lostRate, truncateRate := p.failRate, p.lostRate, p.truncateRate
	corruptBody := isUpload(r) && p.corruptBodies > 0
	if corruptBody {
		p.corruptBodies--
	}
	corruptReported := p.corruptReportedChecksums && isUpload(r)
	stall := p.stallNext > 0
	if stall {
		p.stallNext--
	}
	stallFor := p.stallFor
	p.mu.Unlock()

	if stall {
		p.inc("stalled")
		// Read the body first: only then does the server notice a client
		// that hangs up (and cancel r.Context()).
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		select {
		case <-time.After(stallFor):
		case <-r.Context().Done():
			p.inc("client gave up")
			return
		}
	}

	if p.draw(failRate) {
		switch p.intN(3) {
		case 0:
			p.inc("injected 500")
			writeS3Error(w, http.StatusInternalServerError, "InternalError")
		case 1:
			p.inc("injected 503 SlowDown")
			writeS3Error(w, http.StatusServiceUnavailable, "SlowDown")
		default:
			p.inc("injected reset")
			reset(w)
		}
		return
	}

	out := r.Clone(r.Context())
	out.URL.Scheme, out.URL.Host, out.Host, out.RequestURI = p.upstream.Scheme, p.upstream.Host, r.Host, ""
	if corruptBody {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			reset(w)
			return
		}
		body[len(body)/2] ^= 0xff
		p.inc("corrupted body")
		out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	}
	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()

	if resp.StatusCode >= 400 {
		body, _ := io.ReadAll(resp.Body)
		if code := errorCode(body); code != "" {
			p.inc("S3 " + code)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	if p.draw(lostRate) {
		_, _ = io.Copy(io.Discard, resp.Body)
		p.inc("lost response")
		reset(w)
		return
	}
	for k, vs := range resp.Header {
		if corruptReported && strings.HasPrefix(strings.ToLower(k), "x-amz-checksum-") && !strings.EqualFold(k, "x-amz-checksum-type") {
			p.inc("corrupted reported checksum")
			vs = []string{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}
		}
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	if r.Method == http.MethodGet && resp.StatusCode < 300 && resp.ContentLength > 1 && p.draw(truncateRate) {
		_, _ = io.CopyN(w, resp.Body, resp.ContentLength/2)
		w.(http.Flusher).Flush()
		p.inc("truncated body")
		panic(http.ErrAbortHandler) // the server closes the connection mid-body
	}
	_, _ = io.Copy(w, resp.Body)
}

func writeS3Error(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+code+
		`</Code><Message>injected by faultProxy</Message></Error>`)
}

// reset closes the client connection with a TCP RST.
func reset(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// errorCode extracts <Code> from an S3 error body.
func errorCode(body []byte) string {
	s := string(body)
	i := strings.Index(s, "<Code>")
	j := strings.Index(s, "</Code>")
	if i < 0 || j < i {
		return ""
	}
	return s[i+len("<Code>") : j]
}
