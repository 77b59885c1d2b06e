package clients

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
	"github.com/imagegate/imagegate/internal/testutil/outcomes"
)

// Environment of the oras and helm tests (scripts/install-clients.sh).
const (
	envOrasBin = "ORAS_BIN"
	envHelmBin = "HELM_BIN"
)

// pushFunc pushes the test's content with one client as user to ref
// (HOST/REPO:TAG) and returns everything the client printed.
type pushFunc func(t *testing.T, user, ref string) (string, error)

// TestClientOutcomes pushes with crane, skopeo, oras and helm in the three
// situations a pusher must understand — a policy refusal (the vulnerable
// image under enforce; for a Helm chart, which is not scanned, a lint
// rule), a scan that cannot run (onerror: reject, the scanner pool down
// for real), a missing permission (bob, a reader) — and checks that each
// client fails printing the reason. The golden excerpts below are what
// each client printed against this server; a client that stops showing
// the reason fails here. It also checks that the retries crane and oras
// make of one push refused as scan-unavailable (a 429) leave one rejected
// record.
func TestClientOutcomes(t *testing.T) {
	bin := liveserver.RequireBinary(t, envImagegateBin)
	gates := map[string]*liveserver.Server{
		"policy":      outcomes.StartPolicyGate(t, bin),
		"unavailable": outcomes.StartUnavailableGate(t, bin),
	}
	gates["permission"] = gates["policy"]
	img := outcomes.VulnerableImage(t)
	tarPath := outcomes.WriteTarball(t, img, "imagegate-test/vuln:v1")
	layoutDir := outcomes.WriteLayout(t, img, "v1")
	chartDir, chart := t.TempDir(), "" // chart: packaged there by the first helm case

	// Each pusher finds its client (skipping its cases when missing) and
	// pushes the vulnerable image, or for helm the starter chart.
	pushers := map[string]pushFunc{
		"crane": func(t *testing.T, user, ref string) (string, error) {
			c, _ := newCrane(t, liveserver.RequireBinary(t, envCraneBin), user)
			if _, err := c.run(t.Context(), outcomes.Users[user], "auth", "login", strings.Split(ref, "/")[0], "-u", user, "--password-stdin"); err != nil {
				t.Fatal(err)
			}
			return c.run(t.Context(), "", "push", tarPath, ref)
		},
		"skopeo": func(t *testing.T, user, ref string) (string, error) {
			s := cli{name: "skopeo (" + user + ")", bin: liveserver.RequireBinary(t, envSkopeoBin)}
			return s.run(t.Context(), "", "copy", "--dest-tls-verify=false", "--dest-creds", user+":"+outcomes.Users[user],
				"docker-archive:"+tarPath, "docker://"+ref)
		},
		"oras": func(t *testing.T, user, ref string) (string, error) {
			o := cli{name: "oras (" + user + ")", bin: liveserver.RequireBinary(t, envOrasBin), env: []string{"HOME=" + t.TempDir()}}
			return o.run(t.Context(), "", "cp", "--from-oci-layout", layoutDir+":v1", ref, "--to-plain-http",
				"--to-username", user, "--to-password", outcomes.Users[user])
		},
		"helm": func(t *testing.T, user, ref string) (string, error) {
			h := newHelm(t, liveserver.RequireBinary(t, envHelmBin))
			if chart == "" {
				chart = h.packageChart(t, chartDir)
			}
			host, rest, _ := strings.Cut(ref, "/")
			repo, _, _ := strings.Cut(rest, ":")
			h.login(t, host, user)
			// helm push names the repository and tag after the chart:
			// oci://HOST/team/charts → team/charts/demo:0.1.0.
			return h.run(t.Context(), "", "push", chart, "oci://"+host+"/"+path.Dir(repo), "--plain-http")
		},
	}
	// esc is how skopeo (logrus) quotes its message.
	esc := func(s string) string { return strings.ReplaceAll(s, `"`, `\"`) }
	cases := []struct {
		client, situation, user, ref string
		golden                       string // an excerpt of what the client printed
	}{
		{"crane", "policy", "alice", "team/app:crane", `DENIED: ` + outcomes.ReasonPolicy},
		{"crane", "unavailable", "alice", "team/app:crane", `TOOMANYREQUESTS: ` + outcomes.ReasonUnavailable},
		{"crane", "permission", "bob", "team/app:crane-bob", `DENIED: ` + outcomes.ReasonPermission},
		{"skopeo", "policy", "alice", "team/app:skopeo", `writing manifest: uploading manifest skopeo to HOST/team/app: denied: ` + esc(outcomes.ReasonPolicy)},
		{"skopeo", "unavailable", "alice", "team/app:skopeo", `writing manifest: uploading manifest skopeo to HOST/team/app: toomanyrequests: ` + esc(outcomes.ReasonUnavailable)},
		{"skopeo", "permission", "bob", "team/app:skopeo-bob", `writing manifest: uploading manifest skopeo-bob to HOST/team/app: denied: ` + esc(outcomes.ReasonPermission)},
		{"oras", "policy", "alice", "team/app:oras", `Error from destination registry for "HOST/team/app:oras": denied: ` + outcomes.ReasonPolicy},
		{"oras", "unavailable", "alice", "team/app:oras", `Error from destination registry for "HOST/team/app:oras": toomanyrequests: ` + outcomes.ReasonUnavailable},
		{"oras", "permission", "bob", "team/app:oras-bob", `Error from destination registry for "HOST/team/app:oras-bob": denied: ` + outcomes.ReasonPermission},
		// A chart is an artifact: never scanned, so no scan can be
		// unavailable for it; the policy refusal is a lint rule's.
		{"helm", "policy", "alice", outcomes.Charts + ":0.1.0", `denied: manifests in team/charts/demo must carry the annotation ` +
			outcomes.LintAnnotation + ` (lint rule "team/charts/**")`},
		{"helm", "permission", "bob", outcomes.Charts + ":0.1.0", `denied: bob may pull but not push to team/charts/demo; ` +
			`ask an administrator for a role that grants push on team/charts/demo`},
	}
	for _, tc := range cases {
		t.Run(tc.client+"/"+tc.situation, func(t *testing.T) {
			srv := gates[tc.situation]
			out, err := pushers[tc.client](t, tc.user, srv.Addr+"/"+tc.ref)
			if err == nil {
				t.Fatalf("%s push of %s succeeded, want it refused:\n%s", tc.client, tc.ref, out)
			}
			golden := strings.ReplaceAll(tc.golden, "HOST", srv.Addr)
			if !strings.Contains(err.Error(), golden) {
				t.Fatalf("%s does not show the reason.\nwant an excerpt:\n%s\ngot:\n%v", tc.client, golden, err)
			}
			t.Logf("%v", err)
		})
	}

	// crane retried its refused push three times, oras-go up to five
	// times; one record of each push all the same.
	for _, client := range []string{"crane", "oras"} {
		t.Run(client+"/unavailable/records", func(t *testing.T) {
			liveserver.RequireBinary(t, map[string]string{"crane": envCraneBin, "oras": envOrasBin}[client])
			rs := outcomes.Tagged(outcomes.Records(t, gates["unavailable"], "alice", outcomes.Enforced), client)
			if len(rs) != 1 || rs[0].Status != "rejected" || rs[0].Reason != outcomes.ReasonUnavailable ||
				rs[0].Scan == nil || rs[0].Scan.Verdict != "scan-failed-rejected" {
				t.Errorf("records of one %s push refused as scan-unavailable: %+v, want one rejected, scan-failed-rejected", client, rs)
			}
		})
	}
}

// helmCLI runs helm with private configuration, cache and data
// directories, so that its registry logins stay inside the test.
type helmCLI struct{ cli }

func newHelm(t *testing.T, bin string) helmCLI {
	home := t.TempDir()
	return helmCLI{cli: cli{name: "helm", bin: bin, env: []string{
		"HOME=" + home,
		"HELM_CONFIG_HOME=" + filepath.Join(home, "config"),
		"HELM_CACHE_HOME=" + filepath.Join(home, "cache"),
		"HELM_DATA_HOME=" + filepath.Join(home, "data"),
	}}}
}

// login logs helm in to host as user (plain HTTP).
func (h helmCLI) login(t *testing.T, host, user string) {
	t.Helper()
	if _, err := h.run(t.Context(), outcomes.Users[user], "registry", "login", host, "--insecure", "--plain-http",
		"-u", user, "--password-stdin"); err != nil {
		t.Fatal(err)
	}
}

// packageChart creates the starter chart "demo" in dir and packages it
// there; it returns the package's path.
func (h helmCLI) packageChart(t *testing.T, dir string) string {
	t.Helper()
	h.must(t, "create", filepath.Join(dir, "demo"))
	h.must(t, "package", filepath.Join(dir, "demo"), "--destination", dir)
	path := filepath.Join(dir, "demo-0.1.0.tgz")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("helm package: %v", err)
	}
	return path
}
