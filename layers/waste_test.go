package layers

import "testing"

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		path, kind, dir string
		goImage         bool
	}{
		{path: "var/cache/apt/archives/curl.deb", kind: "package-cache", dir: "var/cache/apt"},
		{path: "var/lib/apt/lists/deb.debian.org_Packages", kind: "package-cache", dir: "var/lib/apt/lists"},
		{path: "var/cache/apk/APKINDEX.tar.gz", kind: "package-cache", dir: "var/cache/apk"},
		{path: "home/app/.cache/pip/http/ab/cd", kind: "package-cache", dir: "home/app/.cache/pip"},
		{path: "root/.npm/_cacache/content-v2/x", kind: "package-cache", dir: "root/.npm/_cacache"},
		{path: "usr/local/share/.cache/yarn/v6/x", kind: "package-cache", dir: "usr/local/share/.cache/yarn"},
		{path: "root/.cache/go-build/ab/x-d", kind: "package-cache", dir: "root/.cache/go-build"},
		{path: "go/pkg/mod/cache/download/x.zip", kind: "package-cache", dir: "go/pkg/mod/cache"},
		{path: "src/app/.git/objects/pack/p.pack", kind: "git", dir: "src/app/.git"},
		{path: ".git/HEAD", kind: "git", dir: ".git"},
		{path: "usr/lib/gcc/x86_64-linux-gnu/12/cc1", kind: "toolchain", dir: "usr/lib/gcc"},
		{path: "usr/local/go/pkg/tool/linux_amd64/compile", kind: "toolchain", dir: "usr/local/go/pkg"},
		{path: "usr/local/go/pkg/tool/linux_amd64/compile", goImage: true},
		{path: "go/pkg/mod/x/y@v1/testdata/big.bin", kind: "test-data", dir: "go/pkg/mod/x/y@v1/testdata"},
		{path: "usr/lib/python3.12/site-packages/numpy/tests/test_a.py", kind: "test-data", dir: "usr/lib/python3.12/site-packages/numpy/tests"},
		{path: "tmp/build.log", kind: "temp", dir: "tmp"},
		{path: "var/tmp/x", kind: "temp", dir: "var/tmp"},
		// Of two matches, the first in the list wins.
		{path: "tmp/repo/.git/HEAD", kind: "git", dir: "tmp/repo/.git"},
		{path: "var/cache/apt/.git/HEAD", kind: "package-cache", dir: "var/cache/apt"},
		{path: "src/.git/testdata/x", kind: "git", dir: "src/.git"},
		// Not waste:
		{path: "tmp"},
		{path: "var/cache/aptitude/x"},
		{path: "etc/apt/sources.list"},
		{path: "srv/tmp/x"},
		{path: "usr/lib/python3.12/site-packages/numpy/core/x.so"},
		{path: "app/.gitignore"},
		{path: "usr/lib/x86_64-linux-gnu/libgcc_s.so.1"},
		{path: ".git"},
		{path: "home/.cache/pip/x"},
	} {
		kind, dir := newClassifier(c.goImage).classify(c.path)
		if kind != c.kind || dir != c.dir {
			t.Errorf("classify(%q, go image %v) = %q %q, want %q %q", c.path, c.goImage, kind, dir, c.kind, c.dir)
		}
	}
}

// /usr/local/go/pkg is waste in an image without the go command, the
// toolchain itself in one with it.
func TestGoToolchainImage(t *testing.T) {
	base := []ent{file("usr/local/go/pkg/tool/compile", 700), file("app", 10)}
	r := image(t, []string{"COPY --from=golang /usr/local/go /usr/local/go"}, base)
	if len(r.Waste) != 1 || r.Waste[0].Kind != "toolchain" || r.Waste[0].Bytes != 700 || r.Waste[0].FinalBytes != 700 {
		t.Errorf("without bin/go: %+v", r.Waste)
	}
	r = image(t, []string{"ADD go.tar.gz /usr/local"}, append(base, file("usr/local/go/bin/go", 100)))
	if len(r.Waste) != 0 {
		t.Errorf("with bin/go: %+v", r.Waste)
	}
}

// Waste a later layer overwrote still counts for the layer that wrote it;
// only the final version shows in FinalBytes.
func TestWasteFinalBytes(t *testing.T) {
	r := image(t, []string{"RUN build", "RUN build again"},
		[]ent{file("tmp/a", 100), file("tmp/b", 50)},
		[]ent{file("tmp/a", 30)},
	)
	want := []Finding{
		{Kind: "temp", Path: "/tmp", Bytes: 150, FinalBytes: 50, Files: 2, Layer: 0, CreatedBy: "RUN build"},
		{Kind: "temp", Path: "/tmp", Bytes: 30, FinalBytes: 30, Files: 1, Layer: 1, CreatedBy: "RUN build again"},
	}
	if len(r.Waste) != 2 || r.Waste[0] != want[0] || r.Waste[1] != want[1] {
		t.Errorf("waste %+v\nwant %+v", r.Waste, want)
	}
}

func TestText(t *testing.T) {
	for in, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 412_000_000: "412 MB", 1_500_000_000: "1.5 GB"} {
		if got := HumanBytes(in); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", in, got, want)
		}
	}
	if got := command("/bin/sh -c #(nop)  CMD [\"x\"]"); got != `CMD ["x"]` {
		t.Errorf("command: %q", got)
	}
	if got := truncate("ééééé", 6); got != "é…" {
		t.Errorf("truncate: %q", got)
	}
}
