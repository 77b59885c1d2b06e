package push

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/metadata"
)

// crashChildEnv tells a re-executed test binary to push and die.
const crashChildEnv = "IMAGEGATE_PUSH_CRASH_CHILD"

// TestCrashLeavesPendingTheSweeperResolves kills a real process at two
// points of a commit — after the pending record, before storing; and after
// storing, before the outcome is recorded — and checks that the sweeper,
// run over the same storage and metadata file afterwards, resolves the
// first as failed and the second as accepted, and publishes both.
func TestCrashLeavesPendingTheSweeperResolves(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(t, dir, os.Getenv(crashChildEnv+"_POINT"))
		return
	}
	for _, c := range []struct {
		point  string
		want   metadata.Status
		stored bool
	}{
		{"recorded", metadata.StatusFailed, false},
		{"stored", metadata.StatusAccepted, true},
	} {
		t.Run(c.point, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLeavesPendingTheSweeperResolves$", "-test.count=1")
			cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashChildEnv+"_POINT="+c.point)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("the child was not killed at %q: %v\n%s", c.point, err, out)
			}

			h := crashHarness(t, dir)
			ctx := context.Background()
			pending, err := h.store.Pending(ctx, metadata.PendingQuery{})
			if err != nil || len(pending.Records) != 1 {
				t.Fatalf("after the crash: %d pending records, %v; want 1", len(pending.Records), err)
			}
			rec := pending.Records[0]
			if got := h.stored(rec.Repository, rec.Digest); got != c.stored {
				t.Fatalf("manifest stored = %v, want %v", got, c.stored)
			}
			s := NewSweeper(SweeperOptions{Store: h.store, Namespace: h.ns, Events: h.events, Grace: 1})
			n, err := s.Sweep(ctx)
			if err != nil || n != 1 {
				t.Fatalf("sweep resolved %d, %v; want 1", n, err)
			}
			if got := h.record(rec.ID); got.Status != c.want {
				t.Fatalf("resolved as %s (%s), want %s", got.Status, got.Reason, c.want)
			}
			if ev := h.events.list(); len(ev) != 1 || ev[0].ID != rec.ID || ev[0].Status != c.want {
				t.Fatalf("events = %+v", ev)
			}
			if n, err := s.Sweep(ctx); err != nil || n != 0 {
				t.Fatalf("second sweep resolved %d, %v; want nothing left", n, err)
			}
		})
	}
}

// crashHarness is a harness over the filesystem storage and metadata file
// in dir, which outlive the process.
func crashHarness(t *testing.T, dir string) *harness {
	t.Helper()
	drv, err := filesystem.FromParameters(map[string]any{"rootdirectory": filepath.Join(dir, "storage")})
	if err != nil {
		t.Fatal(err)
	}
	return newHarnessOn(t, drv, filepath.Join(dir, "records.db"))
}

// crashChild pushes one tagged image and SIGKILLs its own process at point.
func crashChild(t *testing.T, dir, point string) {
	h := crashHarness(t, dir)
	h.pipeline.crashPoint = func(p string) {
		if p == point {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
	x := newPush("crash/app", h.image("crash/app", "crash"), "v1")
	err := h.pipeline.Run(context.Background(), x)
	t.Fatalf("the push returned (%v) instead of dying at %q; digest %s", err, point, digest.FromBytes(x.Payload))
}
