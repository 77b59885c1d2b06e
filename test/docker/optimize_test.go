package docker

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// lsfsSource lists a container's file system, one line per path (type,
// permissions, owner, sha256 of a file's content or a link's target),
// leaving out what the engine mounts or writes per container.
const lsfsSource = `package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

var skip = map[string]bool{"/proc": true, "/sys": true, "/dev": true, "/etc/hosts": true,
	"/etc/hostname": true, "/etc/resolv.conf": true, "/.dockerenv": true, "/etc/mtab": true}

func main() {
	_ = filepath.WalkDir(os.Args[1], func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			fmt.Println("error", p, err)
			return nil
		}
		if skip[p] {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			fmt.Println("error", p, err)
			return nil
		}
		st := fi.Sys().(*syscall.Stat_t)
		what := ""
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			what, _ = os.Readlink(p)
		case fi.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				what = err.Error()
				break
			}
			h := sha256.New()
			_, _ = io.Copy(h, f)
			f.Close()
			what = fmt.Sprintf("%x", h.Sum(nil))
		}
		fmt.Printf("%s %s %d:%d %s\n", p, fi.Mode(), st.Uid, st.Gid, what)
		return nil
	})
}
`

// buildLsfs compiles lsfsSource for linux on the host's architecture.
func buildLsfs(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(lsfsSource), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module lsfs\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "lsfs")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building lsfs: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tarEntry is one entry of a test layer; content is random bytes of size
// from seed, or data.
type tarEntry struct {
	name, link string
	typ        byte
	size       int
	seed       uint64
	data       []byte
	mode       int64
	uid        int
}

func layerOf(t *testing.T, ents ...tarEntry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		body := e.data
		if e.typ == tar.TypeReg && body == nil {
			body = make([]byte, e.size)
			r := rand.NewChaCha8([32]byte{byte(e.seed), 9})
			_, _ = r.Read(body)
		}
		if e.mode == 0 && !strings.Contains(e.name, ".wh.") {
			e.mode = 0o644
			if e.typ == tar.TypeDir {
				e.mode = 0o755
			}
		}
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.uid,
			Size: int64(len(body)), ModTime: time.Unix(1700000000, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func f(name string, size int, seed uint64) tarEntry {
	return tarEntry{name: name, typ: tar.TypeReg, size: size, seed: seed}
}
func d(name string) tarEntry          { return tarEntry{name: name + "/", typ: tar.TypeDir} }
func wh(dir, base string) tarEntry    { return tarEntry{name: dir + "/.wh." + base, typ: tar.TypeReg} }
func hl(name, target string) tarEntry { return tarEntry{name: name, link: target, typ: tar.TypeLink} }
func sl(name, target string) tarEntry {
	return tarEntry{name: name, link: target, typ: tar.TypeSymlink, mode: 0o777}
}
func (e tarEntry) owned(uid int) tarEntry { e.uid = uid; return e }

// wastefulRunnable is an image whose entrypoint lists the file system,
// with every kind of waste optimize drops: an apt cache deleted later
// (under parents no entry lists), a file overwritten, an opaque
// directory, a deleted directory re-created, and hard links whose
// targets are overwritten or deleted. (Not a path one layer repeats:
// Docker refuses to pull such a layer, "duplicates of file paths not
// supported"; the unit tests cover it.)
func wastefulRunnable(t *testing.T) v1.Image {
	lsfs := buildLsfs(t)
	img, err := mutate.Append(empty.Image,
		mutate.Addendum{Layer: layerOf(t, d("bin"), tarEntry{name: "bin/lsfs", typ: tar.TypeReg, data: lsfs, mode: 0o755},
			d("etc"), f("etc/config", 100, 1), d("usr"), d("usr/bin"), f("usr/bin/tool", 50_000, 2),
			hl("usr/bin/tool-link", "usr/bin/tool"), sl("usr/bin/t", "tool"),
			d("opq"), f("opq/old", 40_000, 3), d("dup"), f("dup/file", 2_500, 5),
			d("app"), d("app/data"), f("app/data/big", 200_000, 6), f("app/data/keep", 300, 7)),
			History: v1.History{CreatedBy: "base"}},
		mutate.Addendum{Layer: layerOf(t, f("var/cache/apt/archives/pkg.deb", 300_000, 8),
			f("usr/bin/tool", 60_000, 9).owned(1), d("lib"), f("lib/a.so", 80_000, 10), hl("lib/a-link", "lib/a.so"),
			d("tmp"), f("tmp/scratch", 70_000, 11)),
			History: v1.History{CreatedBy: "RUN apt-get install -y pkg"}},
		mutate.Addendum{Layer: layerOf(t, wh("var/cache/apt/archives", "pkg.deb"), wh("tmp", "scratch"),
			tarEntry{name: "opq/.wh..wh..opq", typ: tar.TypeReg}, d("opq"), f("opq/new", 500, 12),
			wh("app", "data"), f("etc/config", 120, 13).owned(2)),
			History: v1.History{CreatedBy: "RUN rm -rf /var/cache/apt/archives/* /tmp/scratch /app/data"}},
		mutate.Addendum{Layer: layerOf(t, d("app/data"), f("app/data/keep", 300, 14), wh("lib", "a.so")),
			History: v1.History{CreatedBy: "RUN make keep"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return listing(t, img, "/")
}

// listing is img for this host's platform, its entrypoint /bin/lsfs
// (which its layers must hold) listing dir.
func listing(t *testing.T, img v1.Image, dir string) v1.Image {
	t.Helper()
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	cfg.Config.Entrypoint, cfg.Config.Cmd = []string{"/bin/lsfs"}, []string{dir}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	return img
}

// TestDockerRunOptimized: a wasteful image pushed to the real imagegate
// binary, optimized by `imagegate optimize` to a new tag; the real engine
// runs both: the same files (type, mode, owner, sha256, link target)
// and the same entrypoint and command; the optimized one is smaller.
func TestDockerRunOptimized(t *testing.T) {
	bin := liveserver.RequireBinary(t, envImagegateBin)
	docker := requireDocker(t)
	srv := liveserver.Start(t, bin)

	img := wastefulRunnable(t)
	tag := uniqueTag()
	ref, err := name.ParseReference(srv.Addr+"/e2e/opt:"+tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("pushing the original: %v", err)
	}
	orig := srv.Addr + "/e2e/opt:" + tag
	t.Cleanup(func() { removeImage(t, docker, orig) })
	docker.must(t, "pull", "-q", orig)
	want := docker.must(t, "run", "--rm", "--network", "none", orig)
	for _, tc := range []struct {
		suffix string
		args   []string
	}{
		{"-slim", nil},
		{"-flat", []string{"--squash", "all"}},
	} {
		slim := runOptimized(t, docker, bin, srv.Addr, "e2e/opt:"+tag, "e2e/opt:"+tag+tc.suffix, tc.args...)
		got := docker.must(t, "run", "--rm", "--network", "none", slim)
		if want != got {
			wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
			for _, l := range wl {
				if !slices.Contains(gl, l) {
					t.Errorf("%s: only in the original: %s", tc.suffix, l)
				}
			}
			for _, l := range gl {
				if !slices.Contains(wl, l) {
					t.Errorf("%s: only in the optimized: %s", tc.suffix, l)
				}
			}
		}
		for _, line := range []string{"/usr/bin/tool-link -rw-r--r-- 0:0 ", "/lib/a-link -rw-r--r-- 0:0 ",
			"/var/cache/apt/archives d", // implicit: mode 0600 on Docker's own layer store, 0755 on containerd's
			"/app/data/keep -rw-r--r-- 0:0 ", "/opq/new ", "/usr/bin/t Lrwxrwxrwx 0:0 tool"} {
			if !strings.Contains(got, line) {
				t.Errorf("%s: the listing lacks %q:\n%s", tc.suffix, line, got)
			}
		}
		for _, gone := range []string{"/lib/a.so ", "/opq/old ", "/app/data/big ", "/tmp/scratch ", "pkg.deb"} {
			if strings.Contains(got, gone) {
				t.Errorf("%s: the listing has %q", tc.suffix, gone)
			}
		}
		cfgOf := func(ref string) string {
			return docker.must(t, "image", "inspect", "--format", "{{json .Config.Entrypoint}} {{json .Config.Cmd}}", ref)
		}
		if a, b := cfgOf(orig), cfgOf(slim); a != b || a != `["/bin/lsfs"] ["/"]` {
			t.Errorf("%s: entrypoint and command: original %s, optimized %s", tc.suffix, a, b)
		}
	}
}

// runOptimized runs `imagegate optimize SRC --to DST ARGS… --json`
// against the server at addr, checks the gate accepted it and the bytes
// it dropped, pulls DST into the engine and returns its reference.
func runOptimized(t *testing.T, docker dockerCLI, bin, addr, src, dst string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, append([]string{"optimize", src, "--to", dst, "--server", "http://" + addr, "--json"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("imagegate optimize %v: %v\n%s", args, err, out)
	}
	var res struct {
		BeforeBytes  int64 `json:"before_bytes"`
		AfterBytes   int64 `json:"after_bytes"`
		SavedBytes   int64 `json:"saved_bytes"`
		DroppedBytes int64 `json:"dropped_bytes"`
		Layers       []struct {
			Empty bool `json:"empty"`
		} `json:"layers"`
		Gate struct {
			Accepted bool `json:"accepted"`
		} `json:"gate"`
	}
	if err := json.Unmarshal(out, &res); err != nil || !res.Gate.Accepted {
		t.Fatalf("optimize --json: %v\n%s", err, out)
	}
	t.Logf("optimize %v: %d → %d bytes compressed in %d layers, saved %d; %d bytes of files dropped",
		args, res.BeforeBytes, res.AfterBytes, len(res.Layers), res.SavedBytes, res.DroppedBytes)
	// opq/old 40,000 + app/data/big 200,000 + keep 300 + pkg.deb 300,000
	// + tmp/scratch 70,000 + etc/config 100.
	if res.DroppedBytes != 610_400 || res.SavedBytes < 600_000 {
		t.Errorf("optimize %v: dropped %d bytes, saved %d compressed", args, res.DroppedBytes, res.SavedBytes)
	}
	ref := addr + "/" + dst
	t.Cleanup(func() { removeImage(t, docker, ref) })
	docker.must(t, "pull", "-q", ref)
	return ref
}
