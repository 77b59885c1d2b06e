package fleet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// loadBalancer is one HAProxy started by scripts/haproxy.sh.
type loadBalancer struct {
	Addr  string // host:port clients use
	stats string // host:port of its statistics page
	dir   string // its configuration, pid and log
}

// startLoadBalancer runs HAProxy in front of replicas (replica1 … replicaN
// in its configuration and log, in that order) and returns once every
// replica is UP in its health checks. It stops when the test ends.
func startLoadBalancer(t testing.TB, replicas []*liveserver.Server) *loadBalancer {
	t.Helper()
	addrs, err := liveserver.FreeLoopbackAddrs(2)
	if err != nil {
		t.Fatal(err)
	}
	lb := &loadBalancer{Addr: addrs[0], stats: addrs[1], dir: t.TempDir()}
	args := []string{filepath.Join(liveserver.RepoRoot(t), "scripts", "haproxy.sh"), "start", lb.dir, lb.Addr, lb.stats}
	for _, r := range replicas {
		args = append(args, r.Addr)
	}
	if out, err := exec.CommandContext(t.Context(), "bash", args...).CombinedOutput(); err != nil {
		t.Fatalf("start HAProxy (scripts/haproxy.sh; `bash scripts/haproxy.sh install` caches it): %v\n%s", err, out)
	}
	t.Cleanup(func() {
		script := filepath.Join(liveserver.RepoRoot(t), "scripts", "haproxy.sh")
		if out, err := exec.Command("bash", script, "stop", lb.dir).CombinedOutput(); err != nil {
			t.Errorf("stop HAProxy: %v\n%s", err, out)
		}
	})
	return lb
}

// lbRequest is one request line of HAProxy's log (option httplog).
type lbRequest struct {
	Server string // replica1 …, or <NOSRV>
	Status int
	Method string
	Path   string
}

// httplogLine matches the parts of an httplog line the tests read:
// "frontend backend/server Tq/Tw/Tc/Tr/Ta status ... "METHOD URI HTTP/1.1"".
var httplogLine = regexp.MustCompile(`\] registry replicas/(\S+) \S+ (-?\d+) .*"(\S+) (\S+) HTTP/[0-9.]+"$`)

// requests returns every request HAProxy has logged so far.
func (lb *loadBalancer) requests(t testing.TB) []lbRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(lb.dir, "haproxy.log"))
	if err != nil {
		t.Fatalf("read HAProxy log: %v", err)
	}
	var out []lbRequest
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		m := httplogLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		var status int
		_, _ = fmt.Sscan(m[2], &status)
		out = append(out, lbRequest{Server: m[1], Status: status, Method: m[3], Path: m[4]})
	}
	return out
}

// serverState returns each replica's health-check state (UP, DOWN, …) and
// its current sessions, from the statistics page.
func (lb *loadBalancer) serverState(ctx context.Context) (map[string]serverStat, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+lb.stats+"/stats;csv", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("HAProxy statistics: %w", err)
	}
	defer resp.Body.Close()
	r := csv.NewReader(resp.Body)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("HAProxy statistics: %w", err)
	}
	out := map[string]serverStat{}
	for _, row := range rows {
		// pxname, svname, qcur, qmax, scur (4), …, bin (8), …, status (17)
		if len(row) < 18 || row[0] != "replicas" || row[1] == "BACKEND" {
			continue
		}
		var s serverStat
		_, _ = fmt.Sscan(row[4], &s.Sessions)
		_, _ = fmt.Sscan(row[8], &s.BytesIn)
		s.Status = row[17]
		out[row[1]] = s
	}
	return out, nil
}

// serverStat is one replica as HAProxy sees it.
type serverStat struct {
	Status   string
	Sessions int   // requests in flight to it
	BytesIn  int64 // bytes sent to it by finished requests
}

// waitServer polls the statistics page (bounded) until cond holds for
// some replica and returns that replica's name.
func (lb *loadBalancer) waitServer(t testing.TB, what string, timeout time.Duration, cond func(serverStat) bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	var last map[string]serverStat
	for {
		st, err := lb.serverState(ctx)
		if err == nil {
			last = st
			for name, s := range st {
				if cond(s) {
					return name
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no replica %s within %v; HAProxy sees %+v", what, timeout, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitStatus polls until replica name has status (UP, DOWN).
func (lb *loadBalancer) waitStatus(t testing.TB, name, status string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	for {
		st, err := lb.serverState(ctx)
		if err == nil && strings.HasPrefix(st[name].Status, status) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("HAProxy does not see %s %s within %v: %+v (%v)", name, status, timeout, st[name], err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
