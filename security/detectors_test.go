package security

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/metadata"
)

// step is one replayed event: the clock moves by after, then do runs;
// fires says whether exactly this event must raise one alert.
type step struct {
	after time.Duration
	do    func(ctx context.Context, m *Monitor)
	fires bool
}

func login(user, addr string) step {
	return step{do: func(ctx context.Context, m *Monitor) { m.LoginFailed(ctx, user, addr) }}
}

func tokenUse(token, addr string) step {
	return step{do: func(ctx context.Context, m *Monitor) { m.TokenUsed(ctx, token, "alice", addr) }}
}

func read(subject, method, repo string) step {
	return step{do: func(ctx context.Context, m *Monitor) { m.RepositoryRead(ctx, subject, method, repo, "192.0.2.9") }}
}

func finished(rec metadata.Record) step {
	return step{do: func(ctx context.Context, m *Monitor) { m.PushFinished(ctx, rec) }}
}

func refusedLayers(repo string, layers ...digest.Digest) step {
	return step{do: func(ctx context.Context, m *Monitor) {
		m.VulnerableLayers(ctx, pushRecord("ci", repo, metadata.StatusRejected), layers)
	}}
}

// pushRecord is a final push record of user to repo.
func pushRecord(user, repo string, status metadata.Status, layers ...digest.Digest) metadata.Record {
	rec := metadata.Record{ID: "r", Kind: metadata.KindPush, Repository: repo, Status: status,
		Digest: digest.FromString(repo), User: metadata.User{Subject: user, Method: "password"}, ClientIP: "198.51.100.1"}
	for _, l := range layers {
		rec.Layers = append(rec.Layers, metadata.Blob{Digest: l})
	}
	return rec
}

func refusal(user, repo, verdict, reason string) step {
	rec := pushRecord(user, repo, metadata.StatusRejected)
	rec.Reason = reason
	if verdict != "" {
		rec.Scan = &metadata.ScanSummary{Verdict: verdict}
	}
	return finished(rec)
}

// at sets a step's delay and expectation.
func at(s step, after time.Duration, fires bool) step {
	s.after, s.fires = after, fires
	return s
}

// times repeats make(i) for i in [from, to).
func times(from, to int, make func(i int) step) []step {
	var out []step
	for i := from; i < to; i++ {
		out = append(out, make(i))
	}
	return out
}

func seq(parts ...[]step) []step {
	var out []step
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func one(s step) []step { return []step{s} }

var (
	layerA = digest.FromString("layer a")
	layerB = digest.FromString("layer b")
)

// replays are synthetic traffic per detector (thresholds of testConfig).
var replays = []struct {
	name     string
	detector string
	steps    []step
}{
	{"spraying fires once at the 4th distinct user, silent in cooldown, fires again after", PasswordSpraying, seq(
		times(0, 3, func(i int) step { return login(fmt.Sprintf("user%d", i), "203.0.113.7") }),
		one(at(login("user3", "203.0.113.7"), 0, true)),
		times(4, 20, func(i int) step { return login(fmt.Sprintf("user%d", i), "203.0.113.7") }),
		times(0, 3, func(i int) step { return at(login(fmt.Sprintf("other%d", i), "203.0.113.7"), 0, false) }),
		one(at(login("late0", "203.0.113.7"), time.Hour, false)),
		times(1, 3, func(i int) step { return login(fmt.Sprintf("late%d", i), "203.0.113.7") }),
		one(at(login("late3", "203.0.113.7"), 0, true)),
	)},
	{"spraying is silent for one user many times, many users from many addresses, and a slow spray", BruteForce, seq(
		// One user failing over and over is brute force (its 5th failure), never spraying.
		times(0, 4, func(int) step { return login("bob", "203.0.113.7") }),
		one(at(login("bob", "203.0.113.7"), 0, true)),
		times(0, 25, func(int) step { return login("bob", "203.0.113.7") }),
		times(0, 30, func(i int) step { return login(fmt.Sprintf("u%d", i), fmt.Sprintf("198.51.100.%d", i)) }),
		times(0, 6, func(i int) step { return at(login(fmt.Sprintf("slow%d", i), "203.0.113.8"), 4*time.Minute, false) }),
	)},
	{"brute force fires at the 5th failure for one user from any address, not for federated logins", BruteForce, seq(
		times(0, 20, func(int) step { return login("", "203.0.113.7") }),
		times(0, 4, func(i int) step { return login("alice", fmt.Sprintf("198.51.100.%d", i)) }),
		one(at(login("alice", "203.0.113.99"), 0, true)),
		times(0, 20, func(i int) step { return login("alice", "203.0.113.99") }),
		one(at(login("alice", "203.0.113.5"), time.Hour+time.Minute, false)),
	)},
	{"token used from a 3rd address fires once; the same addresses again are silent", TokenAddresses, seq(
		times(0, 10, func(int) step { return tokenUse("jti:1", "192.0.2.1") }),
		one(tokenUse("jti:1", "192.0.2.2")),
		one(tokenUse("jti:2", "192.0.2.3")),
		one(at(tokenUse("jti:1", "192.0.2.3"), 0, true)),
		one(tokenUse("jti:1", "192.0.2.4")),
		one(tokenUse("chain:9", "192.0.2.1")),
		one(tokenUse("chain:9", "192.0.2.2")),
		one(at(tokenUse("chain:9", "192.0.2.5"), 0, true)),
	)},
	{"refused pushes: the gate's refusals count, scanner trouble and withdrawn uploads do not", RefusedPushes, seq(
		times(0, 5, func(int) step { return refusal("ci", "a", "scan-failed-rejected", "scan failed") }),
		times(0, 5, func(int) step { return refusal("ci", "a", "scan-in-progress", "retry") }),
		times(0, 5, func(int) step { return refusal("ci", "a", "", "not published: another manifest was refused") }),
		times(0, 5, func(int) step { return finished(pushRecord("ci", "a", metadata.StatusAccepted)) }),
		times(0, 2, func(int) step { return refusal("ci", "a", "enforce:block", "2 vulnerabilities") }),
		one(at(refusal("ci", "b", "", "invalid manifest"), 0, true)),
		times(0, 5, func(int) step { return refusal("ci", "c", "", "invalid manifest") }),
		times(0, 2, func(int) step { return refusal("other", "a", "", "invalid") }),
	)},
	{"robot reads: learned quietly, a new repository after learning fires once per cooldown", RobotNewRepository, seq(
		times(0, 3, func(i int) step { return read("robot$ci", "robot", fmt.Sprintf("team/r%d", i)) }),
		one(at(read("robot$ci", "robot", "team/r0"), 25*time.Hour, false)),
		one(at(read("robot$ci", "robot", "team/secret"), 0, true)),
		one(read("robot$ci", "robot", "team/secret2")),
		one(read("alice", "password", "team/anything")),
		one(at(read("robot$ci", "robot", "team/secret3"), time.Hour, true)),
		one(read("robot$other", "robot", "team/x")),
	)},
	{"vulnerable layer: pushed elsewhere fires once per repository, not where refused, not after remember", VulnerableLayer, seq(
		one(refusedLayers("prod/app", layerA)),
		one(finished(pushRecord("dev", "prod/app", metadata.StatusAccepted, layerA))),
		one(finished(pushRecord("dev", "sandbox/app", metadata.StatusAccepted, layerB))),
		one(finished(pushRecord("dev", "sandbox/app", metadata.StatusRejected, layerA))),
		one(at(finished(pushRecord("dev", "sandbox/app", metadata.StatusAccepted, layerB, layerA)), 0, true)),
		one(finished(pushRecord("dev", "sandbox/app", metadata.StatusAccepted, layerA))),
		one(at(finished(pushRecord("dev", "sandbox/other", metadata.StatusFailed, layerA)), 0, true)),
		one(at(finished(pushRecord("dev", "sandbox/third", metadata.StatusAccepted, layerA)), 25*time.Hour, false)),
	)},
}

// replay runs steps on the monitors in turn (step i on monitors[i%n]) and
// checks after each that exactly the expected alerts were raised.
func replay(t *testing.T, c *clock, rigs []*rig, detector string, steps []step) {
	t.Helper()
	ctx := context.Background()
	want := 0
	for i, s := range steps {
		c.advance(s.after)
		r := rigs[i%len(rigs)]
		s.do(ctx, r.m)
		r.m.Flush()
		if s.fires {
			want++
		}
		got := 0
		for _, r := range rigs {
			got += len(r.alerts.all())
		}
		if got != want {
			t.Fatalf("after step %d: %d alerts, want %d", i, got, want)
		}
	}
	for _, r := range rigs {
		fires := 0
		for _, a := range r.alerts.all() {
			if a.Security.Detector == detector {
				fires++
			}
		}
		r.checkOutputs(t, detector, fires)
	}
}

func TestDetectorsOnReplayedTraffic(t *testing.T) {
	for _, tc := range replays {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			replay(t, c, []*rig{newRig(t, fleet.NewMemory(0), testConfig(), c)}, tc.detector, tc.steps)
		})
	}
}

// TestDetectorsFleetWide replays the same traffic spread over two monitors
// sharing one store, as replicas share theirs: the counts are the
// fleet's, and each incident is raised once, by one of them.
func TestDetectorsFleetWide(t *testing.T) {
	for _, tc := range replays {
		t.Run(tc.name, func(t *testing.T) {
			c, store := newClock(), fleet.NewMemory(0)
			replay(t, c, []*rig{newRig(t, store, testConfig(), c), newRig(t, store, testConfig(), c)}, tc.detector, tc.steps)
		})
	}
}
