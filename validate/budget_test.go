package validate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"
)

// TestConfigBudget: configs are read only while their bytes fit in the
// validator's budget. A result that keeps its config (for a scanner)
// holds its bytes until Release; a check that finds no room within the
// wait is refused with 429 TOOMANYREQUESTS, one whose request ends gets
// the context's error; a result that keeps nothing, and a refusal, hold
// nothing.
func TestConfigBudget(t *testing.T) {
	v, err := New(Options{ConfigBudget: maxConfigBytes})
	if err != nil {
		t.Fatal(err)
	}
	v.budget.wait = 50 * time.Millisecond
	big := `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + digest.FromBytes(fuzzLayers[0]).String() +
		`"]},"padding":"` + strings.Repeat("p", 5<<20) + `"}`
	first, m1 := hostileImage([]byte(big))
	second, m2 := hostileImage([]byte(strings.Replace(big, "padding", "paddinG", 1)))
	ctx := context.Background()

	m1.KeepConfig = true
	kept, err := v.Validate(ctx, m1, first, first)
	if err != nil || string(kept.RawConfig) != big || kept.Config.OS != "linux" {
		t.Fatalf("kept config: %v", err)
	}
	_, err = v.Validate(ctx, m2, second, second)
	var e errcode.Error
	if !errors.As(err, &e) || e.Code != errcode.ErrorCodeTooManyRequests {
		t.Fatalf("a second 5 MiB config while the first is kept in an 8 MiB budget: %v, want TOOMANYREQUESTS", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := v.Validate(cancelled, m2, second, second); !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting with an ended request: %v, want its context's error", err)
	}

	kept.Release()
	kept.Release() // twice: no effect
	if kept.RawConfig != nil {
		t.Fatal("Release kept the bytes")
	}
	for range 3 { // nothing kept: nothing held past the check
		res, err := v.Validate(ctx, m2, second, second)
		if err != nil || res.RawConfig != nil {
			t.Fatalf("after Release: %v (raw config kept: %v)", err, res != nil && res.RawConfig != nil)
		}
	}
	// A refusal after the config was read keeps nothing, kept or not.
	linted, err := New(Options{ConfigBudget: maxConfigBytes, Lint: []LintRule{{Repositories: "team/**", Labels: []string{"team"}}}})
	if err != nil {
		t.Fatal(err)
	}
	linted.budget.wait = v.budget.wait
	for range 3 {
		_, err := linted.Validate(ctx, m1, first, first)
		if !errors.As(err, &e) || e.Code != errcode.ErrorCodeDenied {
			t.Fatalf("an image the lint rule refuses: %v, want DENIED (not a wait on a config a refusal kept)", err)
		}
	}
	if _, err := New(Options{ConfigBudget: maxConfigBytes - 1}); err == nil {
		t.Error("a budget smaller than the largest config was accepted")
	}
}
