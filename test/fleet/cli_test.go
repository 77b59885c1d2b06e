package fleet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// cmdTimeout bounds every client command.
const cmdTimeout = 3 * time.Minute

// cli is one command-line client with a private home, so that its logins
// stay inside the test.
type cli struct {
	name string   // for messages
	bin  string   // absolute path
	pre  []string // arguments before every command's own
	env  []string // added to the test's environment
}

// run executes the client with args and stdin, bounded by cmdTimeout, and
// returns its standard output, trimmed; on failure the error carries both
// outputs.
func (c cli) run(ctx context.Context, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, append(append([]string(nil), c.pre...), args...)...)
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w\n%s\n%s", c.name, strings.Join(args, " "), err,
			strings.TrimSpace(errOut.String()), strings.TrimSpace(out.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// must is run without stdin, failing the test on error.
func (c cli) must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.run(t.Context(), "", args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// imageTarball returns a random image of n layers of size bytes each and a
// docker-archive tarball of it.
func imageTarball(t *testing.T, n int, size int64) (v1.Image, string) {
	t.Helper()
	img, err := random.Image(size, int64(n))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "image.tar")
	tag, err := name.NewTag("fleet-test/src:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		t.Fatalf("write image tarball: %v", err)
	}
	return img, path
}

// digestOf is img's manifest digest.
func digestOf(t testing.TB, img interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// uploadSpread is how the blob uploads to one repository went over the
// replicas, as HAProxy logged them.
type uploadSpread struct {
	uploads int            // uploads with a PATCH or PUT
	split   int            // of which PATCH and PUT reached different replicas
	servers map[string]int // PATCH and PUT requests per replica
}

// spreadOf reads HAProxy's log for the PATCH and PUT requests of blob
// uploads to repo, grouped by upload (the id in the upload URL).
func spreadOf(t *testing.T, lb *loadBalancer, repo string) uploadSpread {
	t.Helper()
	prefix := "/v2/" + repo + "/blobs/uploads/"
	byUpload := map[string]map[string]bool{}
	sp := uploadSpread{servers: map[string]int{}}
	for _, r := range lb.requests(t) {
		path, _, _ := strings.Cut(r.Path, "?")
		if (r.Method != "PATCH" && r.Method != "PUT") || !strings.HasPrefix(path, prefix) {
			continue
		}
		id := strings.TrimPrefix(path, prefix)
		if byUpload[id] == nil {
			byUpload[id] = map[string]bool{}
		}
		byUpload[id][r.Server] = true
		sp.servers[r.Server]++
	}
	sp.uploads = len(byUpload)
	for _, servers := range byUpload {
		if len(servers) > 1 {
			sp.split++
		}
	}
	return sp
}

// assertSpread fails t unless the blob uploads to repo went to more than
// one replica, with at least one upload continued (PATCH, then PUT) on
// another replica than the one that took its data — what a shared
// http.secret and shared upload state make work — and unless the
// replicas' own access logs agree that more than one took PATCHes.
func assertSpread(t *testing.T, f *fleet, repo string) {
	t.Helper()
	sp := spreadOf(t, f.lb, repo)
	t.Logf("%s: %d blob uploads through HAProxy, %d continued on another replica; PATCH+PUT per replica %v", repo, sp.uploads, sp.split, sp.servers)
	if sp.uploads == 0 {
		t.Fatalf("HAProxy logged no blob upload to %s", repo)
	}
	if len(sp.servers) < 2 || sp.split == 0 {
		t.Errorf("blob uploads to %s did not spread: %d of %d uploads split, requests per replica %v", repo, sp.split, sp.uploads, sp.servers)
	}
	patching := 0
	for _, r := range f.replicas {
		if accessLogCount(t, r.LogPath, "PATCH", "/v2/"+repo+"/blobs/uploads/") > 0 {
			patching++
		}
	}
	if patching < 2 {
		t.Errorf("the replicas' access logs show PATCHes to %s on %d replica(s), want at least 2", repo, patching)
	}
}

// accessLogCount counts the access-log lines (log.accesslog) of a replica's
// output with method and a path starting with prefix.
func accessLogCount(t *testing.T, logPath, method, prefix string) int {
	t.Helper()
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatalf("read replica log: %v", err)
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg    string `json:"msg"`
			Method string `json:"method"`
			Path   string `json:"path"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "request" && line.Method == method && strings.HasPrefix(line.Path, prefix) {
			n++
		}
	}
	return n
}
