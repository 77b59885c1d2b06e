package ui

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// uploadLimit is upload.maxbytes of the limit test's server: 1 MiB.
const uploadLimit = 1 << 20

// startUploadServer starts imagegate with alice (a developer on team/**),
// no scan policy, and extraYAML appended to its configuration.
func startUploadServer(t *testing.T, bin, extraYAML string) *liveserver.Server {
	t.Helper()
	dir := t.TempDir()
	alice := map[string]string{"alice": users["alice"]}
	return liveserver.StartWithConfig(t, bin, liveserver.TeamAuthYAML(liveserver.WriteHtpasswd(t, alice), dir)+extraYAML)
}

// TestUIUploadLimit: a file over upload.maxbytes is refused by the page
// before a byte is sent, saying the limit (size and setting); a page whose
// check is bypassed (the limit removed from it, as an old or forged page)
// sends it, and the server's 413 is shown with the same words.
func TestUIUploadLimit(t *testing.T) {
	bin := liveserver.RequireBinary(t, "IMAGEGATE_BIN")
	chromium := liveserver.RequireBinary(t, "IMAGEGATE_CHROMIUM")
	srv := startUploadServer(t, bin, fmt.Sprintf("upload:\n  maxbytes: %d\n", uploadLimit))
	b := newBrowser(t, chromium)
	base := srv.URL

	over := filepath.Join(t.TempDir(), "over.tar")
	if err := os.WriteFile(over, make([]byte, 3<<20), 0o644); err != nil { // 3 MiB: 3,145,728 bytes
		t.Fatal(err)
	}
	limitText := "upload.maxbytes allows 1.0 MB (1048576 bytes)"
	fileText := "3.1 MB (3145728 bytes)"

	tb := b.newTab(t)
	tb.signIn(base, "alice", users["alice"])
	tb.open(base + "/ui/upload")
	if got := tb.text("#upload-limit"); !strings.Contains(got, "1.0 MB") || !strings.Contains(got, "1048576 bytes") || !strings.Contains(got, "upload.maxbytes") {
		t.Errorf("the page states the limit as %q, want 1.0 MB, 1048576 bytes and upload.maxbytes", got)
	}
	before := uploadsCounted(t, srv)
	tb.run(
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{over}),
		chromedp.SendKeys(chromedp.CSS("#repository"), teamRepo),
		chromedp.SendKeys(chromedp.CSS("#tag"), "big"),
	)
	if note := tb.text("#file-note"); !strings.Contains(note, fileText) || !strings.Contains(note, limitText) {
		t.Errorf("choosing the file shows %q, want its size %q and %q", note, fileText, limitText)
	}
	tb.run(chromedp.Click(chromedp.CSS(`#upload-form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#upload-result")))
	v := tb.text("#verdict")
	if !strings.HasPrefix(v, "Not sent") || !strings.Contains(v, limitText) || !strings.Contains(v, fileText) {
		t.Errorf("the page's own refusal: %q, want Not sent, %q and %q", v, fileText, limitText)
	}
	if n := uploadsCounted(t, srv); n != before {
		t.Errorf("the page's refusal still sent the file: uploads counted %v → %v", before, n)
	}
	tb.shot("upload-over-limit-page")

	// A page without the check (the limit removed from the form) sends the
	// file: the server refuses it (413) from its Content-Length, and the
	// page shows the server's message.
	get(tb, chromedp.Evaluate[any](`delete document.getElementById("upload-form").dataset.maxBytes; undefined`))
	tb.run(chromedp.Click(chromedp.CSS(`#upload-form button[type=submit]`)))
	v = get(tb, chromedp.Poll[string](`(t => t.startsWith("Refused") && t)(document.getElementById("verdict").innerText)`))
	if !strings.HasPrefix(v, "Refused (413 UPLOAD_TOO_LARGE)") || !strings.Contains(v, "the upload is "+fileText+"; "+limitText) {
		t.Errorf("the server's refusal shown as %q, want 413 UPLOAD_TOO_LARGE with the server's message naming %q", v, limitText)
	}
	if stage := tb.text("#stage"); !strings.HasPrefix(stage, "failed") {
		t.Errorf("the progress after the server's refusal says %q", stage)
	}
	if n := uploadsCounted(t, srv); n != before+1 {
		t.Errorf("uploads counted by the server %v → %v, want one more (the forged one)", before, n)
	}
	tb.shot("upload-over-limit-server")
	tb.run(chromedp.EmulateViewport(390, 844))
	if overflow := get(tb, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); overflow {
		t.Errorf("the upload page scrolls sideways at phone width")
	}
	tb.shot("upload-over-limit-phone")
}

// uploadsCounted is the sum of imagegate_upload_uploads_total (every
// outcome) on srv's metrics.
func uploadsCounted(t *testing.T, srv *liveserver.Server) float64 {
	t.Helper()
	resp, err := http.Get("http://" + srv.DebugAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "imagegate_upload_uploads_total{") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// bigUploadEnv sets the size of TestUIUploadLarge's layer in MiB
// (IMAGEGATE_UI_UPLOAD_MIB=1024 for a GiB); make test uses the default.
const (
	bigUploadEnv     = "IMAGEGATE_UI_UPLOAD_MIB"
	defaultUploadMiB = 128
)

// TestUIUploadLarge uploads a large tarball (128 MiB of random layer by
// default, IMAGEGATE_UI_UPLOAD_MIB to change it) from the page and
// measures it: the bar reaches 100 %, the verdict appears, and neither the
// browser nor the server holds the file in memory (no process of either
// grows by half the file's size).
func TestUIUploadLarge(t *testing.T) {
	bin := liveserver.RequireBinary(t, "IMAGEGATE_BIN")
	chromium := liveserver.RequireBinary(t, "IMAGEGATE_CHROMIUM")
	mibs := int64(defaultUploadMiB)
	if v := os.Getenv(bigUploadEnv); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > 16<<10 {
			t.Fatalf("%s=%q: want 1 to 16384 (MiB)", bigUploadEnv, v)
		}
		mibs = n
	}
	archive := writeBigTarball(t, mibs<<20, "example.test/big:1")
	size := fileSize(t, archive)
	srv := startUploadServer(t, bin, "")
	b := newBrowser(t, chromium)
	base := srv.URL
	browserPid := chromedp.FromContext(b.root).Browser.Process().Pid

	tb := b.newTab(t)
	tb.signIn(base, "alice", users["alice"])
	tb.open(base + "/ui/upload")
	tb.run(
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{archive}),
		chromedp.SendKeys(chromedp.CSS("#repository"), "team/big"),
		chromedp.SendKeys(chromedp.CSS("#tag"), "1"),
	)
	serverBefore := procStatusBytes(srv.Pid(), "VmRSS")
	_, browserOneBefore := startRSS(browserPid).end()
	rss := startRSS(srv.Pid(), browserPid)
	start := time.Now()
	// Bounded by the size: 30 s, plus a second per 5 MB.
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout+time.Duration(size/5e6)*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Steps(chromedp.Click(chromedp.CSS(`#upload-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#upload-result")))); err != nil {
		t.Fatalf("browser: uploading %s: %v", mib(size), err)
	}
	elapsed := time.Since(start)
	peakSum, peakOne := rss.end()
	serverHWM := procStatusBytes(srv.Pid(), "VmHWM")

	if v := tb.text("#verdict"); !strings.HasPrefix(v, "Accepted") || !strings.Contains(v, "team/big:1") {
		t.Errorf("verdict %q, want accepted team/big:1", v)
	}
	progress := get(tb, chromedp.Poll[string](`document.getElementById("stage").dataset.stage === "done" && document.getElementById("bar").value + " " + document.getElementById("stage").textContent`))
	if !strings.HasPrefix(progress, "100 done:") {
		t.Errorf("progress at the end: %q, want 100 %% done", progress)
	}
	tb.shot("upload-large")
	t.Logf("uploaded %s (%d bytes) from the page in %.1f s: %.1f MB/s", mib(size), size, elapsed.Seconds(), float64(size)/1e6/elapsed.Seconds())
	t.Logf("server RSS: %s before, peak %s sampled, VmHWM %s (process life)", mib(serverBefore), mib(peakOne[0]), mib(serverHWM))
	t.Logf("browser RSS: largest process %s before, peak %s during; all processes peak %s", mib(browserOneBefore[0]), mib(peakOne[1]), mib(peakSum[1]))
	// A whole file in memory would grow one process by its size.
	if grew := peakOne[0] - serverBefore; grew > size/2 {
		t.Errorf("the server grew by %s during the upload of %s: it holds the file", mib(grew), mib(size))
	}
	if grew := peakOne[1] - browserOneBefore[0]; grew > size/2 {
		t.Errorf("a browser process grew by %s during the upload of %s: the page holds the file", mib(grew), mib(size))
	}
}
