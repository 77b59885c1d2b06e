package push

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/policy"
	"github.com/imagegate/imagegate/scan"
	"github.com/imagegate/imagegate/validate"
)

// configScanner remembers the config bytes each scan was given.
type configScanner struct {
	mu      sync.Mutex
	configs []digest.Digest
}

func (s *configScanner) Scan(_ context.Context, t scan.Target) (*scan.Report, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.configs = append(s.configs, digest.FromBytes(t.RawConfig))
	return &scan.Report{Scanner: "config", ScannedAt: time.Now()}, nil
}
func (*configScanner) Status(context.Context) scan.Status { return scan.Status{} }
func (*configScanner) Close() error                       { return nil }

// TestGateReleasesTheKeptConfig: the validator keeps an image's config
// bytes for the scanner only when a scan will run, and the gate gives
// them back to the validator's budget once it has decided — in a budget
// of one large config, large configs pushed one after another each get
// their scan and none waits for a config the gate no longer needs.
func TestGateReleasesTheKeptConfig(t *testing.T) {
	set, err := policy.NewSet([]policy.Rule{{Repositories: "plain/**", Mode: policy.Off, OnError: policy.Accept},
		{Repositories: "**", Mode: policy.Audit, Severity: scan.SeverityHigh, OnError: policy.Accept}})
	if err != nil {
		t.Fatal(err)
	}
	sc := &configScanner{}
	v, err := validate.New(validate.Options{ConfigBudget: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *Options) {
		o.Validator = v
		o.Scanning = Scanning{Scanner: sc, Policies: set, Timeout: time.Minute}
	})
	var want []digest.Digest
	for i, repo := range []string{"team/a", "plain/a", "team/a", "team/b"} {
		cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"padding%d":%q}`,
			i, strings.Repeat("p", 5<<20)))
		cdesc := h.blob(repo, v1.MediaTypeImageConfig, cfg)
		x := newPush(repo, h.manifest(map[string]any{"schemaVersion": 2, "mediaType": v1.MediaTypeImageManifest,
			"config": cdesc, "layers": []v1.Descriptor{}}), "1")
		// A config kept past the gate would hold the budget: this push
		// would wait for it until the deadline.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := h.pipeline.Run(ctx, x)
		cancel()
		if err != nil {
			t.Fatalf("push %d to %s: %v", i, repo, err)
		}
		if x.result.RawConfig != nil {
			t.Errorf("push %d to %s: the config's bytes are still held after the gate", i, repo)
		}
		if repo != "plain/a" {
			want = append(want, cdesc.Digest)
		}
	}
	if fmt.Sprint(sc.configs) != fmt.Sprint(want) {
		t.Errorf("the scanner was given configs %v, want %v (every scanned push's, none of the unscanned one)", sc.configs, want)
	}
}
