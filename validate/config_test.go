package validate

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/internal/imageconfig"
)

// FuzzDecodeConfig: decodeConfig accepts exactly the configs
// json.Unmarshal accepts into a v1.Image — whatever the case of the
// names, repeated names, nulls, wrong kinds, bad times or invalid UTF-8
// — and reads the same platform, rootfs, lint labels and history
// commands from them: streaming what the gate reads weakens no check.
func FuzzDecodeConfig(f *testing.F) {
	for _, seed := range []string{
		`{"architecture":"amd64","os":"linux","config":{"Labels":{"team":"a"}},"rootfs":{"type":"layers","diff_ids":["sha256:a","sha256:b"]},"history":[{"created_by":"ADD /"},{"empty_layer":true},{"created_by":"RUN x","created":"2025-01-01T00:00:00Z"}]}`,
		`{"OS":"linux","Os":"windows","ROOTFS":{"Type":"layers","DIFF_IDS":[null,"x"]},"Config":{"labels":{"team":null}}}`,
		`{"config":{"Labels":{"team":"a"},"Labels":null},"rootfs":{"diff_ids":["a","b","c"],"diff_ids":["d"]}}`,
		`{"config":{"Labels":{"team":"a"},"Labels":{"b":"c"}}}`,
		`{"created":"yesterday"}`, `{"created":null,"author":null}`, `{"history":[{"created":"2025-13-01T00:00:00Z"}]}`,
		`{"config":{"Env":"PATH=/bin"}}`, `{"config":{"Env":[1]}}`, `{"config":{"Env":[null,"a"]}}`,
		`{"config":{"ExposedPorts":{"80/tcp":{"x":[1]}}}}`, `{"config":{"ExposedPorts":{"80/tcp":[]}}}`, `{"config":{"Volumes":{"/v":null}}}`,
		`{"config":{"Labels":{"team":1}}}`, `{"config":{"ArgsEscaped":"yes"}}`, `{"config":null,"rootfs":null,"history":null}`,
		`{"history":[1]}`, `{"history":[null,{}]}`, `{"history":[{"empty_layer":"true"}]}`, `{"os.features":["a",null],"os.version":"10"}`,
		`{"os":"` + strings.Repeat("x", 200) + `","os":"linux"}`, `{"os":"\xff\xfe"}`, `{"config":{"Labels":{"t\u0065am":"\xff"}}}`,
		`{}`, `null`, `[]`, `{"os":1}`, `{"os":"linux"} x`, `{"os":"linux"}{}`, ``, `{"a":}`, ` {"rootfs":{"type":"layers"}} `,
	} {
		f.Add([]byte(seed), 2)
	}
	want := map[string]bool{"team": true, "b": true}
	f.Fuzz(func(t *testing.T, raw []byte, layers int) {
		layers = max(0, min(layers, 8))
		var old v1.Image
		oldErr := json.Unmarshal(raw, &old)
		got, err := decodeConfig(raw, layers, want)
		if (oldErr == nil) != (err == nil) {
			t.Fatalf("%q: encoding/json into a v1.Image says %v, decodeConfig %v", raw, oldErr, err)
		}
		if err != nil {
			return
		}
		for _, f := range []struct {
			name string
			got  platformStr
			want string
		}{{"os", got.OS, old.OS}, {"architecture", got.Architecture, old.Architecture}, {"variant", got.Variant, old.Variant}} {
			if f.got.n != len(f.want) || (len(f.want) <= maxPlatformField && f.got.s != f.want) {
				t.Fatalf("%q: %s %q (%d bytes), want %q", raw, f.name, f.got.s, f.got.n, f.want)
			}
		}
		ids := got.RootFS.DiffIDs
		if got.RootFS.Type != old.RootFS.Type || ids.count != len(old.RootFS.DiffIDs) ||
			!slices.Equal(ids.ids, old.RootFS.DiffIDs[:min(layers, len(old.RootFS.DiffIDs))]) {
			t.Fatalf("%q: rootfs %q %d %q, want %q %q", raw, got.RootFS.Type, ids.count, ids.ids, old.RootFS.Type, old.RootFS.DiffIDs)
		}
		for l := range want {
			if _, ok := old.Config.Labels[l]; ok != got.Config.Labels.found[l] {
				t.Fatalf("%q: label %q found %v, encoding/json %v", raw, l, got.Config.Labels.found[l], ok)
			}
		}
		history, err := imageconfig.ReadHistory(strings.NewReader(string(raw)), layers)
		if err != nil {
			t.Fatalf("%q: a config decodeConfig accepts has a history ReadHistory refuses: %v", raw, err)
		}
		var made []v1.History
		for _, h := range old.History {
			if !h.EmptyLayer && len(made) < layers {
				made = append(made, h)
			}
		}
		if len(history) != len(made) {
			t.Fatalf("%q: %d history entries read, want %d", raw, len(history), len(made))
		}
		for i, h := range history {
			if len(made[i].CreatedBy) <= imageconfig.MaxCommand && h.CreatedBy != made[i].CreatedBy {
				t.Fatalf("%q: history %d %q, want %q", raw, i, h.CreatedBy, made[i].CreatedBy)
			}
		}
	})
}
