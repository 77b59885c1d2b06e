package ui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// actionTimeout bounds one step in the browser (a navigation and its waits).
const actionTimeout = 30 * time.Second

// browser is one headless Chromium and what its pages reported.
type browser struct {
	root  context.Context
	shots string
	// axe is axe-core's script, run on every page screenshotted; "" none.
	axe string
	// checked lists the pages axe-core checked.
	checked []string

	mu sync.Mutex
	// problems are CSP violations and uncaught script errors, from every tab.
	problems []string
}

// newBrowser starts Chromium at path with a fresh profile; it is closed
// when the test ends.
func newBrowser(t *testing.T, path string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	// The first tab starts the browser; the people's tabs open beside it,
	// each in a browser context (cookies) of its own.
	root, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	if err := chromedp.Do(root); err != nil {
		t.Fatalf("browser: starting %s: %v", path, err)
	}
	return &browser{root: root, shots: screenshotDir(t), axe: loadAxe(t)}
}

// tab is one browsing context of its own (cookies included): one person.
type tab struct {
	t   *testing.T
	b   *browser
	ctx context.Context
}

// newTab opens a tab in a new browser context, watching its console.
func (b *browser) newTab(t *testing.T) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.root, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{t: t, b: b, ctx: ctx}
	// The first Run starts the tab (never under a timeout: that would end it).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browser: starting a tab: %v", err)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *log.EventEntryAdded:
			if strings.Contains(e.Entry.Text, "Content Security Policy") {
				b.report("csp: " + e.Entry.Text)
			}
		case *runtime.EventConsoleAPICalled:
			for _, a := range e.Args {
				if s := string(a.Value); strings.Contains(s, "Content Security Policy") {
					b.report("csp: " + s)
				}
			}
		case *runtime.EventExceptionThrown:
			b.report("script error: " + e.ExceptionDetails.Text)
		}
	})
	if err != nil {
		t.Fatalf("browser: listening to the tab: %v", err)
	}
	return tb
}

// report records a problem a page showed.
func (b *browser) report(p string) {
	b.mu.Lock()
	b.problems = append(b.problems, p)
	b.mu.Unlock()
}

// takeProblems returns and clears the problems recorded so far.
func (b *browser) takeProblems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.problems
	b.problems = nil
	return p
}

// run runs steps in the tab, bounded by actionTimeout; an error fails the test.
func (tb *tab) run(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	get(tb, chromedp.Steps(steps...))
}

// get runs one action in the tab, bounded by actionTimeout, and returns
// its value; an error fails the test.
func get[T any](tb *tab, a chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
	return v
}

// text is the visible text of the first element matching the CSS selector sel.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return get(tb, chromedp.Text(chromedp.CSS(sel)))
}

// location is the tab's current URL.
func (tb *tab) location() string {
	tb.t.Helper()
	return get(tb, chromedp.Location())
}

// open navigates to url and waits for its main element.
func (tb *tab) open(url string) {
	tb.t.Helper()
	tb.run(chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("main")))
}

// follow runs steps that start a navigation (a click on a link or a
// submit button) and returns the HTTP status of the page they lead to,
// once it has loaded.
func (tb *tab) follow(steps ...chromedp.Action[chromedp.Void]) int64 {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
	return resp.Status
}

// visit navigates to url and returns the page's HTTP status once loaded.
func (tb *tab) visit(url string) int64 {
	tb.t.Helper()
	return get(tb, chromedp.NavigateResponse(url)).Status
}

// signIn fills in and submits the sign-in form as user, and returns the
// status of the page it leads to.
func (tb *tab) signIn(base, user, password string) int64 {
	tb.t.Helper()
	tb.open(base + "/ui/login")
	tb.run(
		chromedp.SendKeys(chromedp.CSS("#username"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
	)
	return tb.follow(chromedp.Click(chromedp.CSS(`form[action="/ui/login"] button[type=submit]`)))
}

// shot saves a full-page screenshot of the tab as build/ui/NAME.png, and
// checks the page's accessibility (checkAccessibility).
func (tb *tab) shot(name string) {
	tb.t.Helper()
	tb.checkAccessibility(name)
	png := get(tb, chromedp.FullScreenshot(100))
	path := filepath.Join(tb.b.shots, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatalf("screenshot %s: %v", path, err)
	}
}

// screenshotDir is IMAGEGATE_UI_SCREENSHOTS, else build/ui under the
// module's root; created if missing.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("IMAGEGATE_UI_SCREENSHOTS")
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, "build", "ui")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshots: %v", err)
	}
	return dir
}

// moduleRoot is the nearest directory above the working one with a go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
