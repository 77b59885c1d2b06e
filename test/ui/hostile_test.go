package ui

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagegate/imagegate/internal/testutil/forged"
	"github.com/imagegate/imagegate/internal/testutil/liveserver"
	"github.com/imagegate/imagegate/scan/scantest"
)

// maxImagePage bounds the image page of the hostile image. Before the
// bounds of ui/clip.go it was 40 MB (every label, every apostrophe
// escaped into five bytes).
const maxImagePage = 1 << 20

// maxViewsGrowth bounds how much 8 concurrent views of the hostile
// image's page may grow the server's resident memory (423 MiB before the
// API read the config as a stream: internal/imageconfig).
const maxViewsGrowth = 128 << 20

// TestUIHostileImage has alice push an image whose every field an
// attacker wrote, and root (an administrator) view it: the page stays
// under 1 MiB and says what it left out; a platform of megabytes is
// refused at the push; and in Chromium no
// pushed markup becomes an element, a handler or a link.
func TestUIHostileImage(t *testing.T) {
	bin := liveserver.RequireBinary(t, "IMAGEGATE_BIN")
	srv := liveserver.StartWithConfig(t, bin, liveserver.TeamAuthYAML(liveserver.WriteHtpasswd(t, users), t.TempDir())+adminBinding)
	d := push(t, srv, "team/hostile:1", hostileImage(t))
	// One Chromium for the subtests that need it (each skips without it).
	var b *browser
	if os.Getenv("IMAGEGATE_CHROMIUM") != "" {
		b = newBrowser(t, liveserver.RequireBinary(t, "IMAGEGATE_CHROMIUM"))
	}
	// rootTab is a tab of root's, signed in; the subtest skips without Chromium.
	rootTab := func(t *testing.T) *tab {
		liveserver.RequireBinary(t, "IMAGEGATE_CHROMIUM")
		tb := b.newTab(t)
		tb.signIn(srv.URL, "root", users["root"])
		return tb
	}
	page := "/ui/image?name=team/hostile&digest=" + d.String()

	t.Run("Bounded", func(t *testing.T) {
		p := newPerson(t, srv.URL)
		p.mustSignIn("root", users["root"])
		start := time.Now()
		status, body := p.get(page)
		t.Logf("the hostile image's page: %d bytes in %v", len(body), time.Since(start).Round(time.Millisecond))
		if status != http.StatusOK {
			t.Fatalf("image page: %d: %s", status, excerpt(body))
		}
		if len(body) > maxImagePage {
			t.Errorf("the image page is %d bytes, want at most %d", len(body), maxImagePage)
		}
		// The API answers the first labels by key within 256 KiB
		// (internal/imageconfig): about 60 of these; the page shows up to 100.
		shown := regexp.MustCompile(fmt.Sprintf(`(\d+) of %d labels shown`, hostileLabels)).FindStringSubmatch(body)
		if shown == nil {
			t.Errorf("the page does not say how many of the %d labels it shows", hostileLabels)
		} else {
			t.Logf("the page says %q", shown[0])
			if n, _ := strconv.Atoi(shown[1]); n < 50 || n > 100 {
				t.Errorf("the page shows %d labels, want 50 to 100", n)
			}
		}
		if !strings.Contains(body, "… (4096 bytes)") || !strings.Contains(body, "… (200004 bytes)") {
			t.Error("the cut label values and history entry do not say their whole length")
		}
	})

	t.Run("ConcurrentViewsBounded", func(t *testing.T) {
		// 8 administrators view the image at once. Each view read the 8
		// MiB config whole into a map, encoded it for the API's answer and
		// decoded it again for the page: 196 → 619 MiB of the server's
		// resident memory even once the page itself was bounded.
		p := newPerson(t, srv.URL)
		p.mustSignIn("root", users["root"])
		before := procStatusBytes(srv.Pid(), "VmRSS")
		rss := startRSS(srv.Pid())
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				resp, err := p.client.Get(srv.URL + page)
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != http.StatusOK {
					t.Errorf("image page: %d (%v)", resp.StatusCode, err)
				}
			})
		}
		wg.Wait()
		peak, _ := rss.end()
		t.Logf("8 concurrent views of the hostile image: server resident memory %s before, %s at the peak", mib(before), mib(peak[0]))
		if grew := peak[0] - before; grew > maxViewsGrowth {
			t.Errorf("8 concurrent views grew the server by %s, want at most %s", mib(grew), mib(maxViewsGrowth))
		}
	})

	t.Run("HugePlatformRefused", func(t *testing.T) {
		// The push record keeps the platform, and every listing of records
		// carries it: ten such pushes made one view of the repository page
		// take 2.7 s and 565 MiB of the server's memory.
		err := pushErr(t, srv, "team/hostile:os", hostilePlatform(t))
		if err == nil || !strings.Contains(err.Error(), "MANIFEST_INVALID") || !strings.Contains(err.Error(), fmt.Sprintf("image config os is %d bytes", 5+7<<20)) {
			t.Errorf("pushing a config whose os is 7 MiB: %v, want MANIFEST_INVALID naming its length", err)
		}
		child := scantest.CleanImage(t)
		push(t, srv, "team/hostile:child", child)
		index := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: child,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: strings.Repeat("'", 200), Architecture: "amd64"}}})
		err = pushIndexErr(t, srv, "team/hostile:index", index)
		if err == nil || !strings.Contains(err.Error(), "MANIFEST_INVALID") || !strings.Contains(err.Error(), "platform os is 200 bytes") {
			t.Errorf("pushing an index whose entry's os is 200 bytes: %v, want MANIFEST_INVALID", err)
		}
		// An index of 4,000 entries (the same child again and again): its
		// record would list them all; it failed with a 503 (its references
		// past the fleet store's 256 KiB), not a refusal.
		adds := make([]mutate.IndexAddendum, 4000)
		for i := range adds {
			adds[i] = mutate.IndexAddendum{Add: child}
		}
		err = pushIndexErr(t, srv, "team/hostile:many", mutate.AppendManifests(empty.Index, adds...))
		if err == nil || !strings.Contains(err.Error(), "DENIED") || !strings.Contains(err.Error(), "index lists 4000 manifests") {
			t.Errorf("pushing an index of 4,000 entries: %.300v, want DENIED (validation.maxindexmanifests)", err)
		}
	})

	t.Run("RefusalReasonBounded", func(t *testing.T) {
		// A layer URL of 3 MiB is refused, quoting it: the reason went
		// whole into the answer, the record, the log and the webhook, and
		// the repository page lists 50 records (five such refusals: 79 MB).
		forgedBody := forgedManifest(t, func(m map[string]any) {
			m["layers"].([]any)[0].(map[string]any)["urls"] = []string{"javascript:" + strings.Repeat("'", 3<<20)}
		})
		push(t, srv, "team/refused:base", scantest.CleanImage(t))
		err := remote.Put(reference(t, srv, "team/refused:url"), forged.Manifest{Body: forgedBody, Type: types.OCIManifestSchema1}, asAlice)
		if err == nil || !strings.Contains(err.Error(), "MANIFEST_INVALID") || !strings.Contains(err.Error(), "… (3145739 bytes)") {
			t.Errorf("the forged manifest: %.300v, want MANIFEST_INVALID quoting the start of the url and its length", err)
		}
		p := newPerson(t, srv.URL)
		p.mustSignIn("root", users["root"])
		status, body := p.get("/ui/repository?name=team/refused")
		t.Logf("the repository page: %d bytes", len(body))
		if status != http.StatusOK || len(body) > maxImagePage || !strings.Contains(body, "layer urls must be http or https") {
			t.Errorf("the repository page: %d, %d bytes, want the refusal within 1 MiB", status, len(body))
		}
	})

	t.Run("RecordFieldsBounded", func(t *testing.T) {
		// A 500 KB User-Agent, a 2 MB artifact type and the 5,000 layers of
		// a refused manifest went whole into push records, which the API and
		// the UI list 50 to a page.
		if err := remote.Write(reference(t, srv, "team/records:ua"), scantest.CleanImage(t), asAlice,
			remote.WithUserAgent(strings.Repeat("u", 500_000))); err != nil {
			t.Fatalf("push with a long User-Agent: %v", err)
		}
		art := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1),
			types.MediaType("application/x."+strings.Repeat("a", 2_000_000)))
		if err := pushErr(t, srv, "team/records:art", art); err == nil || !strings.Contains(err.Error(), "config mediaType is 2000014 bytes") {
			t.Errorf("an artifact whose type is 2 MB: %.300v, want MANIFEST_INVALID naming its length", err)
		}
		// A manifest of 5,000 layers, refused (validation.maxlayers: 256)
		// before its layers were looked at: its record listed them all.
		forgedBody := forgedManifest(t, func(m map[string]any) {
			many := make([]any, 5000)
			for i := range many {
				many[i] = m["layers"].([]any)[0]
			}
			m["layers"] = many
		})
		err := remote.Put(reference(t, srv, "team/records:layers"), forged.Manifest{Body: forgedBody, Type: types.OCIManifestSchema1}, asAlice)
		if err == nil || !strings.Contains(err.Error(), "5000 layers") {
			t.Errorf("a manifest of 5,000 layers: %.300v, want it refused for its layers", err)
		}
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/pushes?repository=team/records", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("root", users["root"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("the records of team/records: %d bytes", len(body))
		if resp.StatusCode != http.StatusOK || len(body) > 256<<10 || !strings.Contains(string(body), strings.Repeat("u", 512)+"… (50") ||
			!strings.Contains(string(body), `"layer_count": 5000`) {
			t.Errorf("the records: %d, %d bytes, want at most 256 KiB, the User-Agent cut with its length, 5000 layers counted", resp.StatusCode, len(body))
		}
	})

	t.Run("NoSniffEverywhere", func(t *testing.T) {
		// Answers outside /ui/ carry pushed text too (the API's JSON, the
		// upload's answers): none may be sniffed into a page.
		for _, c := range []struct{ method, path string }{
			{http.MethodGet, "/api/v1/repositories"},
			{http.MethodGet, "/api/v1/repositories/team/hostile/manifests/" + d.String() + "/config"},
			{http.MethodGet, "/api/v1/nothing"},
			{http.MethodGet, "/api/v1/uploads/none"},
			{http.MethodPost, "/upload-image?repository=team/hostile"},
			{http.MethodGet, "/auth/token?service=imagegate"},
			{http.MethodGet, "/healthz"},
			{http.MethodGet, "/ui"},
			{http.MethodGet, "/nothing"},
			{http.MethodGet, "/v2/"},
		} {
			req, err := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(markup))
			if err != nil {
				t.Fatal(err)
			}
			req.SetBasicAuth("alice", users["alice"])
			resp, err := noRedirects.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("%s %s: %d %s, X-Content-Type-Options %q, want nosniff", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), got)
			}
		}
	})

	t.Run("UIHeaders", func(t *testing.T) {
		// Every signed-in page: its type and charset, not sniffed, not
		// framed, not cached, no referrer leaving the origin, and a policy
		// that closes plugins, <base> and foreign form targets.
		p := newPerson(t, srv.URL)
		p.mustSignIn("root", users["root"])
		for _, path := range []string{page, "/ui/repositories", "/ui/repository?name=team/hostile", "/ui/pushes", "/ui/upload",
			"/ui/robots", "/ui/robots/revoke?name=ci", "/ui/status", "/ui/nothing"} {
			resp, err := p.client.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			h := resp.Header
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'", "script-src 'self'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("%s: Content-Security-Policy %q lacks %s", path, csp, want)
				}
			}
			for k, want := range map[string]string{"Content-Type": "text/html; charset=utf-8", "X-Content-Type-Options": "nosniff",
				"X-Frame-Options": "DENY", "Cache-Control": "no-store", "Referrer-Policy": "same-origin"} {
				if got := h.Get(k); got != want {
					t.Errorf("%s: %d, %s %q, want %q", path, resp.StatusCode, k, got, want)
				}
			}
		}
	})

	t.Run("NoMarkupInChromium", func(t *testing.T) {
		tb := rootTab(t)
		tb.open(srv.URL + page)
		if n := get(tb, chromedp.Evaluate[int](`document.querySelectorAll("#injected, svg, script:not([src])").length`)); n != 0 {
			t.Errorf("%d pushed elements became part of the page", n)
		}
		links := get(tb, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("a"), a => a.getAttribute("href")).filter(h => !h.startsWith("/ui/") && !h.startsWith("#"))`))
		if len(links) != 0 {
			t.Errorf("links leaving the UI: %q", links)
		}
		if main := tb.text("main"); !strings.Contains(main, markup) || !strings.Contains(main, "javascript:alert(document.cookie)") {
			t.Error("the pushed text is not shown as text")
		}
		noProblems(t, b)
	})

	t.Run("UploadMessagesAsText", func(t *testing.T) {
		// The upload page prefills the repository from its URL (a name
		// only) and shows the server's refusal, which names what was sent.
		tb := rootTab(t)
		tb.open(srv.URL + "/ui/upload?repository=" + url.QueryEscape(markup))
		junk := filepath.Join(t.TempDir(), "junk.tar")
		if err := os.WriteFile(junk, []byte(markup), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := get(tb, chromedp.Evaluate[string](`document.getElementById("repository").value`)); got != "" {
			t.Errorf("the repository field holds %q, want nothing (no repository name)", got)
		}
		// The fields' patterns would stop the markup in the browser; the
		// server's refusal naming it is what is shown here (as a tarball
		// someone handed over names its own tags).
		get(tb, chromedp.Evaluate[any](`for (const f of document.querySelectorAll("#upload-form input")) f.removeAttribute("pattern"); undefined`))
		tb.run(chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{junk}),
			chromedp.SetValue(chromedp.CSS("#repository"), "team/hostile"),
			chromedp.SetValue(chromedp.CSS("#tag"), markup),
			chromedp.Click(chromedp.CSS(`#upload-form button[type=submit]`)))
		v := get(tb, chromedp.Poll[string](`(t => t.startsWith("Refused") && t)(document.getElementById("verdict").innerText)`))
		t.Logf("the page shows %q", v)
		if n := get(tb, chromedp.Evaluate[int](`document.querySelectorAll("#injected, svg").length`)); n != 0 {
			t.Errorf("%d elements of the refusal or the URL became part of the page", n)
		}
		if !strings.Contains(v, `<svg id=\"injected\"`) {
			t.Errorf("the refusal %q does not name the tag as text", v)
		}
		noProblems(t, b)
	})

	t.Run("NoFraming", func(t *testing.T) {
		// Another site frames the robots' revoke form to have an
		// administrator click it (clickjacking): the browser refuses to
		// show it (frame-ancestors 'none', X-Frame-Options: DENY).
		tb := rootTab(t)
		framer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `<!doctype html><iframe id="f" src="%s/ui/robots/revoke?name=ci"></iframe>`, srv.URL)
		}))
		defer framer.Close()
		tb.run(chromedp.Navigate(strings.Replace(framer.URL, "127.0.0.1", "localhost", 1)))
		// Chromium reports the refusal on its console (CSP): wait for it.
		var problems []string
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for deadline := time.Now().Add(actionTimeout); time.Now().Before(deadline); <-tick.C {
			problems = append(problems, b.takeProblems()...)
			if strings.Contains(strings.Join(problems, " "), "frame-ancestors") {
				return
			}
		}
		t.Errorf("the framed revoke form was not refused; the browser reported %q", problems)
	})
}

// noProblems fails t if b's pages reported CSP violations or script errors.
func noProblems(t *testing.T, b *browser) {
	t.Helper()
	if p := b.takeProblems(); len(p) != 0 {
		t.Errorf("the page reported %q", p)
	}
}
