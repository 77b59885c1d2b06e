package ui

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// pullsYAML flushes pull records every second (the default is a minute),
// so a pull shows on the pages within the test's patience.
const pullsYAML = `lifecycle:
  pulls:
    flushinterval: 1s
`

// testLastPull: bob pulls teamRepo:1.0 (a manifest GET, as docker pull
// sends); once a flush has written it, the repository page's tag list
// says 1.0 was last pulled just now by that tag, with the exact time in
// a <time> element, and so does the image page; alice's private image,
// never pulled, reads "never pulled (tracked since …)".
func testLastPull(t *testing.T, b *browser, f *fixture) {
	base := f.srv.URL
	before := time.Now().UTC().Add(-time.Second)
	ref, err := name.ParseReference(f.srv.Addr+"/"+teamRepo+":1.0", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Image(ref, remote.WithAuth(&authn.Basic{Username: "bob", Password: users["bob"]})); err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	// Wait (bounded) until a flush wrote the pull: the API shows it.
	waitForPull(t, base, teamRepo, "1.0")

	tb := b.newTab(t)
	tb.signIn(base, "bob", users["bob"])
	tb.open(base + "/ui/repository?name=" + teamRepo)
	row := `//table//tr[td[1][text()="1.0"]]`
	cell := tb.textX(row + `/td[contains(@class,"pulled")]`)
	if cell != "last pulled just now by tag 1.0" {
		t.Errorf("the 1.0 row says %q, want it last pulled just now by tag 1.0", cell)
	}
	at := tb.attrX(row+`/td[contains(@class,"pulled")]/time`, "datetime")
	if pulled, err := time.Parse(time.RFC3339, at); err != nil || pulled.Before(before.Truncate(time.Second)) || pulled.After(time.Now().Add(time.Minute)) {
		t.Errorf("the 1.0 row's <time datetime=%q> (%v): want the pull's time, after %v", at, err, before)
	}
	tb.shot("repository-pulls")

	tb.open(base + "/ui/image?name=" + teamRepo + "&digest=" + f.vulnerable.String())
	if got := tb.text("#last-pull"); got != "last pulled just now by tag 1.0" {
		t.Errorf("the image page says %q of the last pull", got)
	}

	alice := b.newTab(t)
	alice.signIn(base, "alice", users["alice"])
	alice.open(base + "/ui/image?name=" + privateRepo + "&digest=" + f.private.String())
	if got := alice.text("#last-pull"); !strings.HasPrefix(got, "never pulled (tracked since ") {
		t.Errorf("the never pulled image's page says %q", got)
	}
	alice.open(base + "/ui/repository?name=" + privateRepo)
	if got := alice.text("td.pulled"); !strings.HasPrefix(got, "never pulled (tracked since ") {
		t.Errorf("the never pulled tag's row says %q", got)
	}
}

// waitForPull polls the tags API as bob (every 50 ms, at most 30 s) until
// tag's manifest has a recorded pull by that tag.
func waitForPull(t *testing.T, base, repo, tag string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/repositories/"+repo+"/tags", nil)
		req.SetBasicAuth("bob", users["bob"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		var page struct {
			Tags []struct {
				Name          string `json:"name"`
				LastPulledTag string `json:"last_pulled_tag"`
			} `json:"tags"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &page) != nil {
			t.Fatalf("tags of %s: %d %s", repo, resp.StatusCode, excerpt(body))
		}
		for _, tg := range page.Tags {
			if tg.Name == tag && tg.LastPulledTag == tag {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pull of %s:%s was not recorded within 30 s: %s", repo, tag, excerpt(body))
		}
		<-tick.C
	}
}

// textX is the visible text of the first element matching the XPath sel.
func (tb *tab) textX(sel string) string {
	tb.t.Helper()
	return get(tb, chromedp.Text(sel))
}

// attrX is attribute attr of the first element matching the XPath sel.
func (tb *tab) attrX(sel, attr string) string {
	tb.t.Helper()
	return get(tb, chromedp.AttributeValue(sel, attr)).Value
}
