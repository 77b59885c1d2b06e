package registry

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/config"
)

// crashDirEnv, when set, makes TestCrashChildServer serve a registry over
// that directory until killed (the parent of TestBlobSurvivesKillAfter201).
const crashDirEnv = "IMAGEGATE_CRASH_CHILD_DIR"

// TestCrashChildServer is not a test on its own: it is the server process
// that TestBlobSurvivesKillAfter201 starts and kills.
func TestCrashChildServer(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("only as the child of TestBlobSurvivesKillAfter201")
	}
	cfg := config.Default()
	cfg.HTTP.Addr, cfg.Debug.Addr = "127.0.0.1:0", ""
	cfg.Storage.Filesystem.RootDirectory = filepath.Join(dir, "registry")
	cfg.Metadata.Bolt.Path = filepath.Join(dir, "metadata.db")
	cfg.Metadata.Outbox = filepath.Join(dir, "outbox.db")
	cfg.Scan.Policies = nil
	srv, err := New(context.Background(), cfg, NewLogger(io.Discard, "error"))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("ADDR %s\n", srv.Addr())
	select {} // until killed
}

// startChild starts the child server over dir and returns its base URL
// and process.
func startChild(t *testing.T, dir string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChildServer$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return "http://" + addr, cmd
		}
	}
	t.Fatalf("child server printed no address: %v", sc.Err())
	return "", nil
}

// A blob answered 201 survives a SIGKILL of the server right after the
// answer: a new process over the same directory serves it, byte for byte
// (checked by digest). Uploaded in two PATCHes and a PUT, so the resumed
// writer and the commit's rename are both on the path.
//
// What this proves: the 201 is written only after the blob is committed
// to the filesystem (renamed into place, linked in the repository), not
// held in the process. What it cannot prove: survival of a power loss —
// the kernel's page cache outlives a process kill. That part rests on the
// driver fsyncing the data before the rename and the directories after it,
// which storagedriver/fs's TestCommitFsyncsDataThenDirectories checks.
func TestBlobSurvivesKillAfter201(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dir := t.TempDir()
	base, child := startChild(t, dir)

	content := make([]byte, 9<<20+321)
	rand.Read(content)
	sum := sha256.Sum256(content)
	dgst := "sha256:" + hex.EncodeToString(sum[:])

	resp, err := http.Post(base+"/v2/crash/test/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	half := len(content) / 2
	for _, part := range [][2]int{{0, half}, {half, len(content)}} {
		req, _ := http.NewRequest(http.MethodPatch, resolve(base, loc), strings.NewReader(string(content[part[0]:part[1]])))
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", part[0], part[1]-1))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("PATCH: %s", resp.Status)
		}
		loc = resp.Header.Get("Location")
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	req, _ := http.NewRequest(http.MethodPut, resolve(base, loc)+sep+"digest="+dgst, nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	// Kill the moment the status line is in: nothing after the 201 runs.
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s", resp.Status)
	}
	_ = child.Wait()

	base, _ = startChild(t, dir)
	resp, err = http.Get(base + "/v2/crash/test/blobs/" + dgst)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET after restart: %s", resp.Status)
	}
	h := sha256.New()
	if _, err := io.Copy(h, resp.Body); err != nil {
		t.Fatal(err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != dgst {
		t.Fatalf("blob after restart has digest %s, want %s", got, dgst)
	}
}

func resolve(base, loc string) string {
	if strings.HasPrefix(loc, "http") {
		return loc
	}
	return base + loc
}
