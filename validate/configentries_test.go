package validate

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/internal/testutil/memstat"
)

// repeat is n copies of item joined by commas.
func repeat(item string, n int) string {
	return strings.TrimSuffix(strings.Repeat(item+",", n), ",")
}

// TestConfigEntriesBounded: a config with a list or object of more
// than maxConfigContainerEntries entries, wherever it is (a field the
// gate reads, one only Trivy's decoding reads, one nobody knows), or
// with more than maxConfigValues values in all, is refused naming the
// place; one at the limits is accepted.
func TestConfigEntriesBounded(t *testing.T) {
	const n = maxConfigContainerEntries
	head := `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + digest.FromBytes(fuzzLayers[0]).String() + `"]}`
	for _, tc := range []struct {
		name, config, at string // at "": accepted
	}{
		{"history at the limit", head + `,"history":[` + repeat(`{}`, n) + `]}`, ""},
		{"history", head + `,"history":[` + repeat(`{}`, n+1) + `]}`, "/history"},
		{"labels at the limit", head + `,"config":{"Labels":{` + repeat(`"a":""`, n) + `}}}`, ""},
		{"labels", head + `,"config":{"Labels":{` + repeat(`"a":""`, n+1) + `}}}`, "/config/Labels"},
		{"env", head + `,"config":{"Env":[` + repeat(`""`, n+1) + `]}}`, "/config/Env"},
		{"OnBuild, which only go-containerregistry decodes", head + `,"config":{"OnBuild":[` + repeat(`""`, n+1) + `]}}`, "/config/OnBuild"},
		{"Healthcheck", head + `,"config":{"Healthcheck":{"Test":[` + repeat(`""`, n+1) + `]}}}`, "/config/Healthcheck/Test"},
		{"a field nobody reads, of arrays", head + `,"x":[[],[` + repeat(`[]`, n+1) + `]]}`, "/x/1"},
		{"the top-level object at the limit", `{` + repeat(`"a":1`, n-3) + `,` + head[1:] + `}`, ""},
		{"a list repeated under one name", head + `,"config":{` + repeat(`"Env":[`+repeat(`""`, n)+`]`, 10) + `}}`, "values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckConfigEntries([]byte(tc.config))
			var e errcode.Error
			switch {
			case tc.at == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.at == "":
			case !errors.As(err, &e) || e.Code != errcode.ErrorCodeManifestInvalid:
				t.Fatalf("got %v, want MANIFEST_INVALID", err)
			case tc.at == "values":
				if !strings.Contains(e.Message, "more than 100000 JSON values") {
					t.Fatalf("message %q does not say the config holds too many values", e.Message)
				}
			default:
				want := "more than 10000 entries in " + tc.at + ";"
				if !strings.Contains(e.Message, want) || e.Detail.(map[string]any)["at"] != tc.at {
					t.Fatalf("message %q detail %v, want %q and at %s", e.Message, e.Detail, want, tc.at)
				}
			}
		})
	}
	// The top level past the limit: n members besides the image's own.
	err := CheckConfigEntries([]byte(`{` + repeat(`"a":1`, n+1) + `}`))
	if err == nil || !strings.Contains(err.Error(), "in its top-level object") {
		t.Fatalf("a top-level object of %d members: %v", n+1, err)
	}
}

// TestScannedConfigDecodingBounded (attack: a config of 8 MiB built so
// that decoding it costs a gigabyte, pushed where a scan policy runs):
// the scanner is given the config the gate accepted, and Trivy decodes
// it whole into a go-containerregistry v1.ConfigFile on every
// ConfigFile call. Every hostile config is either refused by Validate
// or decodes there within maxScannedConfigDecode; before the entries
// were bounded, 2.8 million empty history entries were accepted and
// allocated 1 GB per decode (empty Env and OnBuild words ~290 MB).
func TestScannedConfigDecodingBounded(t *testing.T) {
	const maxScannedConfigDecode = 48 << 20
	v, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	configs := hostileConfigs(digest.FromBytes(fuzzLayers[0]))
	head := `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + digest.FromBytes(fuzzLayers[0]).String() + `"]},`
	for name, list := range map[string]string{"onbuild": "OnBuild", "shell": "Shell"} {
		configs[name] = []byte(head + `"config":{"` + list + `":[` + repeat(`""`, (maxConfigBytes-2048)/3) + `]}}`)
	}
	// At the limits: 9 lists of 10,000 history entries under one name.
	configs["history at the limits"] = []byte(head + repeat(`"history":[`+repeat(`{}`, maxConfigContainerEntries)+`]`, 9) + `}`)
	for name, config := range configs {
		t.Run(name, func(t *testing.T) {
			if len(config) > maxConfigBytes {
				t.Fatalf("the hostile config is %d bytes, over the gate's %d", len(config), maxConfigBytes)
			}
			blobs, m := hostileImage(config)
			if _, err := v.Validate(context.Background(), m, blobs, blobs); err != nil {
				t.Logf("refused: %.200v", err)
				return
			}
			var parseErr error
			alloc := memstat.Allocated(func() { _, parseErr = ggcr.ParseConfigFile(bytes.NewReader(config)) })
			t.Logf("accepted; go-containerregistry's decoding allocates %.1f MB", float64(alloc)/1e6)
			if parseErr != nil {
				t.Fatalf("accepted, and go-containerregistry refuses it: %v", parseErr)
			}
			if alloc > maxScannedConfigDecode {
				t.Errorf("accepted, and one decoding by go-containerregistry allocates %d bytes, want at most %d", alloc, maxScannedConfigDecode)
			}
		})
	}
}
