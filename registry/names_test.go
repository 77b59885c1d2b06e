package registry

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestInvalidRepositoryNamesRefusedEverywhere reproduces findings of the
// red-team review of 2026-12-04: distribution's name grammar admits a
// registry host as first component (upper case, a port) and its router
// bounds no length, so the doors disagreed on what a repository name is.
// A name past 255 characters was challenged (401) for a scope the token
// service then refused (400), a loop; "Team/app" got tokens, uploads and
// API answers while no Docker client can name it (a look-alike of
// team/app); an administrator's POST to localhost:5000/app reached the
// filesystem driver as a path it refuses: 500 UNKNOWN with the storage
// path in its detail. Now every door refuses them alike, before
// authorization: 400 NAME_INVALID (UPLOAD_INVALID on the upload door).
func TestInvalidRepositoryNamesRefusedEverywhere(t *testing.T) {
	s := startAuthServer(t)
	digest := "sha256:" + strings.Repeat("0", 64)
	names := []string{
		strings.Repeat("a", 256),
		strings.Repeat("a/", 127) + "bc", // 256 characters in 128 components
		"Team/app",
		"localhost:5000/app",
		"[::1]/app",
	}
	for _, name := range names {
		// A token for the name if the token service still hands one out
		// (it did), else for a valid scope: the name is refused either way.
		tok := rootToken(t, s, "repository:"+name+":pull,push,delete")
		for _, rq := range []struct {
			label, method, path string
			header              http.Header
		}{
			{"anonymous manifest GET", "GET", "/v2/" + name + "/manifests/v1", nil},
			{"anonymous tag list", "GET", "/v2/" + name + "/tags/list", nil},
			{"anonymous referrers", "GET", "/v2/" + name + "/referrers/" + digest, nil},
			{"admin upload", "POST", "/v2/" + name + "/blobs/uploads/", bearer(tok)},
			{"admin blob HEAD", "HEAD", "/v2/" + name + "/blobs/" + digest, bearer(tok)},
			{"admin manifest PUT", "PUT", "/v2/" + name + "/manifests/v1", bearer(tok)},
			{"admin referrers", "GET", "/v2/" + name + "/referrers/" + digest, bearer(tok)},
		} {
			status, hdr, body := do(t, rq.method, s.base+rq.path, rq.header, strings.NewReader("{}"))
			if status != http.StatusBadRequest || hdr.Get("WWW-Authenticate") != "" ||
				(rq.method != "HEAD" && !slices.Contains(ociErrorCodes(t, body), "NAME_INVALID")) {
				t.Errorf("%s %.40q: %d %q %.200s; want 400 NAME_INVALID, no challenge", rq.label, name, status, hdr.Get("WWW-Authenticate"), body)
			}
		}
		status, _, body := do(t, "GET", s.base+"/auth/token?service=imagegate&scope="+url.QueryEscape("repository:"+name+":pull"), basic("root", "root-pw"), nil)
		if status != http.StatusBadRequest {
			t.Errorf("token for %.40q: %d %.200s; want 400", name, status, body)
		}
		status, _, body = do(t, "GET", s.base+"/api/v1/repositories/"+name+"/tags", basic("root", "root-pw"), nil)
		if status != http.StatusBadRequest || !slices.Contains(ociErrorCodes(t, body), "NAME_INVALID") {
			t.Errorf("API tags of %.40q: %d %.200s; want 400 NAME_INVALID", name, status, body)
		}
		status, _, body = do(t, "POST", s.base+"/upload-image?repository="+url.QueryEscape(name), basic("root", "root-pw"), strings.NewReader(""))
		if status != http.StatusBadRequest || !slices.Contains(ociErrorCodes(t, body), "UPLOAD_INVALID") {
			t.Errorf("upload to %.40q: %d %.200s; want 400 UPLOAD_INVALID", name, status, body)
		}
	}
	// The longest valid names still work: challenged, then served.
	for _, name := range []string{strings.Repeat("a", 255), strings.Repeat("a/", 127) + "b", "example.com/app"} {
		status, hdr, _ := do(t, "GET", s.base+"/v2/"+name+"/tags/list", nil, nil)
		if status != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") == "" {
			t.Errorf("anonymous tag list of valid %.40q: %d, want a 401 challenge", name, status)
		}
		status, _, body := do(t, "POST", s.base+"/v2/"+name+"/blobs/uploads/", bearer(rootToken(t, s, "repository:"+name+":pull,push")), nil)
		if status != http.StatusAccepted {
			t.Errorf("admin upload to valid %.40q: %d %.200s, want 202", name, status, body)
		}
	}
}

// rootToken is root's token for scope, or for a valid scope when the
// token service refuses that one.
func rootToken(t *testing.T, s *testServer, scope string) string {
	t.Helper()
	status, _, body := do(t, "GET", s.base+"/auth/token?service=imagegate&scope="+url.QueryEscape(scope), basic("root", "root-pw"), nil)
	if status != http.StatusOK {
		return token(t, s, "root", "repository:team/app:pull")
	}
	var tr struct{ Token string }
	if err := json.Unmarshal(body, &tr); err != nil {
		t.Fatal(err)
	}
	return tr.Token
}
