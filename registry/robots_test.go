package registry

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestRobotAccounts: an admin creates a scoped robot through the API, the
// robot pushes within its scope only, its secret is shown once and never
// listed, and once revoked neither its secret nor its refresh token works.
func TestRobotAccounts(t *testing.T) {
	s := startAuthServer(t)
	admin := http.Header{"Authorization": {"Bearer " + token(t, s, "root", "registry:catalog:*")},
		"Content-Type": {"application/json"}}
	body := `{"name":"ci","scopes":[{"repositories":"team/**","actions":["pull","push"]}],"expires_in":"1h"}`
	status, _, resp := do(t, "POST", s.base+"/api/v1/robots", admin, strings.NewReader(body))
	var created struct {
		Username, Secret string
		CreatedBy        string `json:"created_by"`
	}
	if err := json.Unmarshal(resp, &created); err != nil || status != http.StatusCreated ||
		created.Username != "robot$ci" || !strings.HasPrefix(created.Secret, "igr_") || created.CreatedBy != "root" {
		t.Fatalf("create: %d %s", status, resp)
	}
	if status, _, _ := do(t, "POST", s.base+"/api/v1/robots", admin, strings.NewReader(body)); status != http.StatusBadRequest {
		t.Fatalf("a second robot of the same name: %d", status)
	}
	alice := http.Header{"Authorization": {"Bearer " + token(t, s, "alice", "registry:catalog:*")}}
	if status, _, _ := do(t, "POST", s.base+"/api/v1/robots", alice, strings.NewReader(body)); status != http.StatusForbidden {
		t.Fatalf("a non-admin created a robot: %d", status)
	}
	if status, _, _ := do(t, "POST", s.base+"/api/v1/robots", admin, strings.NewReader(`{"name":"Bad Name!","scopes":[{"repositories":"**","actions":["pull"]}],"expires_in":"1h"}`)); status != http.StatusBadRequest {
		t.Fatalf("an invalid name: %d", status)
	}

	robot := remote.WithAuth(&authn.Basic{Username: created.Username, Password: created.Secret})
	img, _ := random.Image(256, 1)
	inScope, _ := name.ParseReference(s.host()+"/team/bot:v1", name.Insecure)
	if err := remote.Write(inScope, img, robot); err != nil {
		t.Fatalf("robot push within its scope: %v", err)
	}
	outOfScope, _ := name.ParseReference(s.host()+"/other/bot:v1", name.Insecure)
	if err := remote.Write(outOfScope, img, robot); statusOf(err) != http.StatusUnauthorized {
		t.Fatalf("robot push outside its scope: %v", err)
	}

	status, _, resp = do(t, "GET", s.base+"/api/v1/robots", admin, nil)
	if status != 200 || !strings.Contains(string(resp), `"robot$ci"`) || strings.Contains(string(resp), "secret") {
		t.Fatalf("list: %d %s", status, resp)
	}

	// A refresh token of the robot, to check it dies with the robot.
	form := url.Values{"grant_type": {"password"}, "username": {created.Username}, "password": {created.Secret}, "access_type": {"offline"}}
	r, err := http.PostForm(s.base+"/auth/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		RefreshToken string `json:"refresh_token"`
	}
	_ = json.NewDecoder(r.Body).Decode(&tr)
	r.Body.Close()
	if tr.RefreshToken == "" {
		t.Fatal("no refresh token for the robot")
	}

	if status, _, _ := do(t, "DELETE", s.base+"/api/v1/robots/ci", admin, nil); status != http.StatusNoContent {
		t.Fatalf("revoke: %d", status)
	}
	if err := remote.Write(inScope, img, robot); statusOf(err) != http.StatusUnauthorized {
		t.Fatalf("a revoked robot pushed: %v", err)
	}
	r, err = http.PostForm(s.base+"/auth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}})
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a revoked robot's refresh token: %d", r.StatusCode)
	}
	if status, _, _ := do(t, "DELETE", s.base+"/api/v1/robots/ci", admin, bytes.NewReader(nil)); status != http.StatusNotFound {
		t.Fatalf("revoking twice: %d", status)
	}
}
