package docker

import (
	"context"
	"encoding/base64"
	"encoding/json"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// authUsers are the accounts of TestDockerLoginPushPull: alice is a
// developer (pull, push) on team/**, bob a reader (pull) there.
var authUsers = map[string]string{"alice": "alice-Secret-1", "bob": "bob-Secret-2"}

// refused matches how the docker CLI reports a registry's refusal.
var refused = regexp.MustCompile(`(?i)denied|unauthorized|insufficient_scope`)

// TestDockerLoginPushPull runs the Docker token flow with the real client and
// engine against an imagegate with auth on: docker login as alice (developer
// on team/**), push, logout; pull refused without a login; docker login as
// bob (reader), pull, and bob's push refused; a wrong password refused at
// docker login. Credentials live in a private DOCKER_CONFIG.
func TestDockerLoginPushPull(t *testing.T) {
	bin := liveserver.RequireBinary(t, envImagegateBin)
	docker := requireDocker(t)
	docker.config = t.TempDir()

	htpasswd := liveserver.WriteHtpasswd(t, authUsers)
	srv := liveserver.StartWithConfig(t, bin, liveserver.TeamAuthYAML(htpasswd, t.TempDir()))

	imageID, tag, localRef, remoteRef := stageImage(t, docker, layerCount, "auth-src", srv.Addr+"/team/app")

	// Without a login the engine is challenged and gets no push token.
	if out, err := docker.run(t.Context(), "push", remoteRef); err == nil || !refused.MatchString(out) {
		t.Fatalf("docker push without login: err %v, want a refusal:\n%s", err, out)
	}

	// alice logs in and pushes.
	login(t, docker, srv.Addr, "alice", authUsers["alice"])
	assertStoredLogin(t, docker.config, srv.Addr, "alice")
	pushOut := docker.must(t, "push", remoteRef)
	m := pushDigest.FindStringSubmatch(pushOut)
	if m == nil {
		t.Fatalf("no digest in docker push output:\n%s", pushOut)
	}
	pushedDigest := m[1]
	t.Logf("alice: docker push %s: %s", remoteRef, pushedDigest)
	if got := registryDigest(t, remoteRef, "alice"); got != pushedDigest {
		t.Errorf("registry digest for %s = %s, docker push reported %s", remoteRef, got, pushedDigest)
	}

	// Logout forgets the credentials; a pull is then refused.
	if out := docker.must(t, "logout", srv.Addr); !strings.Contains(out, "Removing login credentials") {
		t.Errorf("docker logout %s said:\n%s", srv.Addr, out)
	}
	if auths := storedAuths(t, docker.config); auths[srv.Addr] != nil {
		t.Errorf("config.json still holds credentials for %s after logout", srv.Addr)
	}
	docker.must(t, "rmi", localRef, remoteRef)
	if _, err := docker.run(t.Context(), "image", "inspect", imageID.String()); err == nil {
		t.Fatalf("image %s still present after docker rmi; the pull would prove nothing", imageID)
	}
	if out, err := docker.run(t.Context(), "pull", remoteRef); err == nil || !refused.MatchString(out) {
		t.Fatalf("docker pull after logout: err %v, want a refusal:\n%s", err, out)
	}

	// bob (reader) logs in and pulls what alice pushed.
	login(t, docker, srv.Addr, "bob", authUsers["bob"])
	docker.must(t, "pull", remoteRef)
	got := inspect(t, docker, remoteRef)
	if want := srv.Addr + "/team/app@" + pushedDigest; !slices.Contains(got.RepoDigests, want) {
		t.Errorf("bob pulled RepoDigests = %q, want it to contain %q", got.RepoDigests, want)
	}
	if got.ID != imageID.String() {
		t.Errorf("bob pulled image ID %s, alice pushed %s", got.ID, imageID)
	}

	// bob may not push: neither new content nor a new tag of existing content.
	bobImg, err := randomImage(1)
	if err != nil {
		t.Fatal(err)
	}
	bobID, err := bobImg.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeImage(t, docker, bobID.String()) })
	bobLocal := "imagegate-e2e/auth-bob:" + tag
	loadImage(t, docker, bobImg, bobLocal)
	for _, ref := range []struct{ local, remote string }{
		{bobLocal, srv.Addr + "/team/bob:" + tag},
		{remoteRef, srv.Addr + "/team/app:bob-" + tag},
	} {
		docker.must(t, "tag", ref.local, ref.remote)
		out, err := docker.run(t.Context(), "push", ref.remote)
		if err == nil || !refused.MatchString(out) {
			t.Errorf("bob (reader) docker push %s: err %v, want a refusal naming denied/unauthorized/insufficient_scope:\n%s",
				ref.remote, err, out)
		} else {
			t.Logf("bob push %s refused: %s", ref.remote, lastLine(out))
		}
		if d, err := headAs(t, ref.remote, "alice"); err == nil {
			t.Errorf("after bob's refused push, %s exists (%s)", ref.remote, d)
		}
	}

	// A wrong password fails docker login and stores nothing new.
	out, err := docker.runStdin(t.Context(), "wrong-password\n", "login", srv.Addr, "-u", "alice", "--password-stdin")
	if err == nil || !refused.MatchString(out) {
		t.Errorf("docker login with a wrong password: err %v, want a refusal:\n%s", err, out)
	}
	if a := storedAuths(t, docker.config)[srv.Addr]; a == nil || a.user(t) != "bob" {
		t.Errorf("after a failed login as alice, config.json holds %+v, want bob's login kept", a)
	}
}

// login runs `docker login ADDR -u user --password-stdin`.
func login(t *testing.T, docker dockerCLI, addr, user, password string) {
	t.Helper()
	out, err := docker.runStdin(t.Context(), password+"\n", "login", addr, "-u", user, "--password-stdin")
	if err != nil {
		t.Fatalf("docker login as %s: %v", user, err)
	}
	if !strings.Contains(out, "Login Succeeded") {
		t.Fatalf("docker login as %s did not report success:\n%s", user, out)
	}
}

// dockerAuth is one entry of config.json's "auths".
type dockerAuth struct {
	Auth          string `json:"auth"`
	IdentityToken string `json:"identitytoken"`
}

// user returns the username stored in the entry ("user:password" in base64).
func (a *dockerAuth) user(t *testing.T) string {
	t.Helper()
	raw, err := base64Decode(a.Auth)
	if err != nil {
		t.Fatalf("config.json auth entry: %v", err)
	}
	u, _, _ := strings.Cut(raw, ":")
	return u
}

// storedAuths reads the "auths" of the client configuration in dir.
func storedAuths(t *testing.T, dir string) map[string]*dockerAuth {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatalf("read docker config: %v", err)
	}
	var cfg struct {
		Auths map[string]*dockerAuth `json:"auths"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("decode docker config: %v\n%s", err, b)
	}
	return cfg.Auths
}

// assertStoredLogin checks that docker login kept user's login for addr as
// the refresh (identity) token the token service issued, not the password.
func assertStoredLogin(t *testing.T, dir, addr, user string) {
	t.Helper()
	a := storedAuths(t, dir)[addr]
	if a == nil {
		t.Fatalf("config.json has no credentials for %s after docker login", addr)
	}
	if got := a.user(t); got != user {
		t.Errorf("config.json credentials for %s are %q's, want %q's", addr, got, user)
	}
	if a.IdentityToken == "" {
		t.Errorf("docker login stored no identity token for %s: the token service gave no refresh_token to offline_token=true", addr)
	}
	if raw, _ := base64Decode(a.Auth); strings.Contains(raw, authUsers[user]) {
		t.Errorf("config.json stores %s's password although it has an identity token", user)
	}
}

// registryDigest is the digest the registry serves for ref, asked as user.
func registryDigest(t *testing.T, ref, user string) string {
	t.Helper()
	d, err := headAs(t, ref, user)
	if err != nil {
		t.Fatalf("HEAD manifest %s as %s: %v", ref, user, err)
	}
	return d
}

// headAs asks the registry for the digest of ref with go-containerregistry,
// logged in as user.
func headAs(t *testing.T, ref, user string) (string, error) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	desc, err := remote.Head(r, remote.WithContext(ctx),
		remote.WithAuth(&authn.Basic{Username: user, Password: authUsers[user]}))
	if err != nil {
		return "", err
	}
	return desc.Digest.String(), nil
}

// base64Decode decodes the "auth" field of a docker config entry.
func base64Decode(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	return string(b), err
}

// lastLine returns the last line of s.
func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// envCraneBin names the crane binary (scripts/install-clients.sh).
const envCraneBin = "CRANE_BIN"

// TestDockerRobotLogin reproduces issue 12 finding 5 with the real Docker
// client and engine: after `docker login -u 'robot$ci'`, Docker keeps only
// the refresh (identity) token, and the refresh grant used to rebuild the
// robot without its scopes — every push and pull was then denied, and so
// was crane reading the same config.json (Kubernetes pull secrets made
// from it, ArgoCD). Now the robot pushes and pulls within its scope, crane
// reads and tags through the same stored login, and outside its scope it
// is still refused.
func TestDockerRobotLogin(t *testing.T) {
	bin := liveserver.RequireBinary(t, envImagegateBin)
	crane := liveserver.RequireEnv(t, envCraneBin, "the crane binary, see scripts/install-clients.sh")
	docker := requireDocker(t)
	docker.config = t.TempDir()

	htpasswd := liveserver.WriteHtpasswd(t, authUsers)
	srv := liveserver.StartWithConfig(t, bin, liveserver.TeamAuthYAML(htpasswd, t.TempDir())+`    - subjects: [alice]
      role: admin
      repositories: ["**"]
`)
	secret := createRobot(t, srv.Addr, "alice", `{"name":"ci","scopes":[{"repositories":"team/**","actions":["pull","push"]}],"expires_in":"1h"}`)

	imageID, tag, localRef, remoteRef := stageImage(t, docker, 1, "robot-src", srv.Addr+"/team/robot")

	login(t, docker, srv.Addr, "robot$ci", secret)
	a := storedAuths(t, docker.config)[srv.Addr]
	if a == nil || a.user(t) != "robot$ci" || a.IdentityToken == "" {
		t.Fatalf("config.json after the robot's docker login: %+v, want robot$ci with an identity token", a)
	}
	if raw, _ := base64Decode(a.Auth); strings.Contains(raw, secret) {
		t.Fatal("config.json stores the robot's secret although it has an identity token")
	}

	out, err := docker.run(t.Context(), "push", remoteRef)
	if err != nil {
		t.Fatalf("robot docker push within its scope (team/**): %v", err)
	}
	m := pushDigest.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no digest in docker push output:\n%s", out)
	}
	pushed := m[1]

	docker.must(t, "rmi", localRef, remoteRef)
	docker.must(t, "pull", remoteRef)
	if got := inspect(t, docker, remoteRef); got.ID != imageID.String() {
		t.Errorf("robot pulled image ID %s, pushed %s", got.ID, imageID)
	}

	// crane, reading the same config.json (identity token → refresh grant).
	runCrane := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, crane, append(args, "--insecure")...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+docker.config)
		b, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(b)), err
	}
	if got, err := runCrane("digest", remoteRef); err != nil || got != pushed {
		t.Fatalf("crane digest with the robot's stored login: %q %v, want %s", got, err, pushed)
	}
	if out, err := runCrane("tag", remoteRef, "crane-"+tag); err != nil {
		t.Fatalf("crane tag (a push) with the robot's stored login: %v\n%s", err, out)
	}

	// Outside its scope the robot is still refused.
	outside := srv.Addr + "/other/robot:" + tag
	docker.must(t, "tag", remoteRef, outside)
	if out, err := docker.run(t.Context(), "push", outside); err == nil || !refused.MatchString(out) {
		t.Fatalf("robot docker push outside its scope: err %v, want a refusal:\n%s", err, out)
	}
}

// createRobot creates a robot through the API as admin and returns its
// secret.
func createRobot(t *testing.T, addr, admin, body string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/auth/token?service=imagegate&scope=registry:catalog:*", nil)
	req.SetBasicAuth(admin, authUsers[admin])
	var tok struct{ Token string }
	doJSON(t, req, http.StatusOK, &tok)
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+addr+"/api/v1/robots", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	req.Header.Set("Content-Type", "application/json")
	var robot struct{ Secret string }
	doJSON(t, req, http.StatusCreated, &robot)
	if robot.Secret == "" {
		t.Fatal("robot created without a secret")
	}
	return robot.Secret
}

// doJSON sends req, wants status, and decodes the JSON answer into v.
func doJSON(t *testing.T, req *http.Request, status int, v any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || json.Unmarshal(b, v) != nil {
		t.Fatalf("%s %s: %d %s, want %d", req.Method, req.URL.Path, resp.StatusCode, b, status)
	}
}

// stageImage loads a random image of layers layers into the engine as
// imagegate-e2e/<local>:<tag> and tags it <remote>:<tag> (removed when the
// test ends); it returns the image ID, the tag and both references.
func stageImage(t *testing.T, docker dockerCLI, layers int, local, remote string) (v1.Hash, string, string, string) {
	t.Helper()
	img, err := randomImage(layers)
	if err != nil {
		t.Fatal(err)
	}
	imageID, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	tag := uniqueTag()
	localRef, remoteRef := "imagegate-e2e/"+local+":"+tag, remote+":"+tag
	t.Cleanup(func() { removeImage(t, docker, imageID.String()) })
	loadImage(t, docker, img, localRef)
	docker.must(t, "tag", localRef, remoteRef)
	return imageID, tag, localRef, remoteRef
}
