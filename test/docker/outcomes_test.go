package docker

import (
	"strings"
	"testing"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
	"github.com/imagegate/imagegate/internal/testutil/outcomes"
)

// TestDockerPushOutcomes runs `docker push` in the three situations a
// pusher must understand — the vulnerable image refused by an enforce
// policy, a scan that cannot run (onerror: reject, the scanner pool down
// for real), a push by bob, who may only pull — and checks that docker
// prints the reason. Docker prints a 4xx answer's code and message on one
// line, whole, and does not retry it; a 5xx it reports only as "received
// unexpected HTTP status: 503 Service Unavailable", which is why a scan
// that could not run is answered 429. The golden lines are what docker
// 20.10 printed against this server.
func TestDockerPushOutcomes(t *testing.T) {
	bin := liveserver.RequireBinary(t, envImagegateBin)
	docker := requireDocker(t)
	docker.config = t.TempDir()
	policyGate := outcomes.StartPolicyGate(t, bin)
	unavailableGate := outcomes.StartUnavailableGate(t, bin)
	local := "imagegate-test/vuln:" + uniqueTag()
	loadImage(t, docker, outcomes.VulnerableImage(t), local)
	t.Cleanup(func() { _, _ = docker.run(t.Context(), "rmi", "-f", local) })

	cases := []struct {
		situation string
		srv       *liveserver.Server
		user      string
		golden    string // the line docker printed
	}{
		{"policy", policyGate, "alice", "denied: " + outcomes.ReasonPolicy},
		{"unavailable", unavailableGate, "alice", "toomanyrequests: " + outcomes.ReasonUnavailable},
		{"permission", policyGate, "bob", "denied: " + outcomes.ReasonPermission},
	}
	for _, tc := range cases {
		t.Run(tc.situation, func(t *testing.T) {
			ref := tc.srv.Addr + "/" + outcomes.Enforced + ":" + tc.user
			docker.must(t, "tag", local, ref)
			t.Cleanup(func() { _, _ = docker.run(t.Context(), "rmi", ref) })
			if _, err := docker.runStdin(t.Context(), outcomes.Users[tc.user], "login", tc.srv.Addr, "-u", tc.user, "--password-stdin"); err != nil {
				t.Fatal(err)
			}
			out, err := docker.run(t.Context(), "push", ref)
			if err == nil {
				t.Fatalf("docker push %s succeeded, want it refused:\n%s", ref, out)
			}
			if !strings.Contains(out, "\n"+tc.golden) {
				t.Fatalf("docker push does not print the reason on a line of its own.\nwant:\n%s\ngot:\n%s", tc.golden, out)
			}
			t.Logf("docker push printed:\n%s", out)
		})
	}
}
