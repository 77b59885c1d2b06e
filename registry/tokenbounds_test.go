package registry

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestTokenRequestsAreBounded reproduces a finding of the red-team review
// of 2026-12-04: the token endpoint took any number of scopes of any
// length. An anonymous GET of 700 KB (20,000 scopes under auth.anonymouspull)
// was answered with a 3.4 MB token — unusable, past every header limit —
// and an audit line of 1.4 MB, per request; one scope could carry 700 KB
// of actions. Now a request asks for at most auth.MaxScopes scopes of at
// most auth.MaxScopeBytes each: 400 UNSUPPORTED, a short answer, a short
// audit line.
func TestTokenRequestsAreBounded(t *testing.T) {
	s := startAuthServer(t)
	scopes := func(n int) string {
		list := make([]string, n)
		for i := range list {
			list[i] = fmt.Sprintf("repository:public/a%d:pull", i)
		}
		return strings.Join(list, " ")
	}
	for _, tc := range []struct {
		label, scope string
	}{
		{"20,000 scopes", scopes(20000)},
		{"101 scopes", scopes(101)},
		{"one scope of 700 KB of actions", "repository:public/a:" + strings.Repeat("pull,", 140000) + "pull"},
	} {
		for _, user := range []string{"", "alice"} {
			var h http.Header
			if user != "" {
				h = basic(user, testUsers[user])
			}
			status, _, body := do(t, "GET", s.base+"/auth/token?service=imagegate&scope="+url.QueryEscape(tc.scope), h, nil)
			if status != http.StatusBadRequest || len(body) > 1024 || !slices.Contains(ociErrorCodes(t, body), "UNSUPPORTED") {
				t.Errorf("%s by %q: %d, %d bytes, want 400 UNSUPPORTED in under 1 KiB", tc.label, user, status, len(body))
			}
		}
	}
	s.logs.mu.Lock()
	for line := range bytes.SplitSeq(s.logs.buf.Bytes(), []byte("\n")) {
		if len(line) > 16<<10 {
			t.Errorf("a log line of %d bytes: %.200s", len(line), line)
		}
	}
	s.logs.mu.Unlock()
	// What clients ask for still works, up to the bound.
	status, _, body := do(t, "GET", s.base+"/auth/token?service=imagegate&scope="+url.QueryEscape(scopes(100)), nil, nil)
	if status != http.StatusOK {
		t.Fatalf("100 scopes: %d %.300s", status, body)
	}
}
