package validate

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/internal/testutil/memstat"
)

// maxConfigCheckAlloc bounds the bytes one Validate of a hostile image
// allocates beyond the config's own size (read once, exactly). Before
// the config was decoded as a stream of what the gate reads, one
// Validate of these configs allocated 25 MB (100,000 diff_ids) to 1,040 MB
// (empty history entries), 4.4 MB for the 1.2 MB config of one long
// history entry; after, each allocates the config's size and at most 1.2
// MB more (2.5 MB under -race), so the bound leaves room for the race
// detector while failing the old code on every case but that last one
// (which allocated 3.2 MB past its size: kept to show it stays bounded).
const maxConfigCheckAlloc = 4 << 20

// hostileConfigs are image configs of just under the gate's 8 MiB whose
// decoding into a v1.Image costs many times their size, each for an
// image of one layer (whose diff_id is diffID).
func hostileConfigs(diffID digest.Digest) map[string][]byte {
	const room = maxConfigBytes - 1<<10
	head := `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + diffID.String() + `"]},`
	fill := func(open, item, end string) []byte {
		var b bytes.Buffer
		b.WriteString(head + open)
		for i := 0; b.Len()+len(item)+len(end)+16 < room; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strings.ReplaceAll(item, "%d", strconv.Itoa(i)))
		}
		b.WriteString(end)
		return b.Bytes()
	}
	return map[string][]byte{
		// test/ui's and registry's hostile image: 1,900 labels of 4 KiB.
		"escaped labels": fill(`"config":{"Labels":{`, `"z%d":"`+strings.Repeat(`\"`, 2048)+`"`, `}}}`),
		"labels":         fill(`"config":{"Labels":{`, `"%d":""`, `}}}`),
		"env":            fill(`"config":{"Env":[`, `""`, `]}}`),
		"history":        fill(`"history":[`, `{}`, `]}`),
		"long history":   []byte(head + `"history":[{"created_by":"RUN ` + strings.Repeat(`\u0027`, 200_000) + `"}]}`),
		// diff_ids the count check refuses (the manifest has one layer).
		"diff_ids": []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[` +
			strings.TrimSuffix(strings.Repeat(`"`+diffID.String()+`",`, 100_000), ",") + `]}}`),
	}
}

// hostileImage is a repository holding one layer and config, and the
// manifest of that image.
func hostileImage(config []byte) (memBlobs, Manifest) {
	layer := fuzzLayers[0]
	cd, ld := digest.FromBytes(config), digest.FromBytes(layer)
	payload := `{"schemaVersion":2,"mediaType":"` + v1.MediaTypeImageManifest + `","config":{"mediaType":"` + v1.MediaTypeImageConfig +
		`","digest":"` + cd.String() + `","size":` + strconv.Itoa(len(config)) + `},"layers":[{"mediaType":"` + v1.MediaTypeImageLayerGzip +
		`","digest":"` + ld.String() + `","size":` + strconv.Itoa(len(layer)) + `}]}`
	return memBlobs{cd: config, ld: layer}, Manifest{Repository: "team/app", MediaType: v1.MediaTypeImageManifest, Payload: []byte(payload)}
}

// TestConfigCheckMemoryBounded validates images whose config is 8 MiB
// built to cost the most memory decoded (millions of empty labels,
// environment words or history entries, 100,000 diff_ids, labels of
// escaped quotes): each Validate allocates the config's size and a
// bounded amount more, not the config's size many times over.
func TestConfigCheckMemoryBounded(t *testing.T) {
	v, err := New(Options{Lint: []LintRule{{Repositories: "team/**", Labels: []string{"team"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for name, config := range hostileConfigs(digest.FromBytes(fuzzLayers[0])) {
		t.Run(name, func(t *testing.T) {
			if len(config) > maxConfigBytes {
				t.Fatalf("the hostile config is %d bytes, over the gate's %d", len(config), maxConfigBytes)
			}
			blobs, m := hostileImage(config)
			validate := func() { _, _ = v.Validate(context.Background(), m, blobs, blobs) }
			validate() // warm: first-use allocations are not the check's
			alloc := memstat.Allocated(validate)
			t.Logf("%d bytes of config: %.1f MB allocated by one Validate", len(config), float64(alloc)/1e6)
			if extra := int64(alloc) - int64(len(config)); extra > maxConfigCheckAlloc {
				t.Errorf("one Validate allocated %d bytes past the config's %d, want at most %d", extra, len(config), maxConfigCheckAlloc)
			}
		})
	}
}

// BenchmarkValidateOrdinaryConfig validates an image whose config is
// what a build tool writes (a dozen labels, environment words, twenty
// history entries): the cost of the config check for ordinary images.
func BenchmarkValidateOrdinaryConfig(b *testing.B) {
	var history, labels []string
	for i := range 20 {
		history = append(history, `{"created":"2025-07-01T00:00:00Z","created_by":"RUN /bin/sh -c apt-get install -y package`+strconv.Itoa(i)+`","empty_layer":`+strconv.FormatBool(i > 0)+`}`)
	}
	for i := range 12 {
		labels = append(labels, `"org.opencontainers.image.label`+strconv.Itoa(i)+`":"https://git.example/team/app/commit/0123456789abcdef"`)
	}
	config := []byte(`{"architecture":"amd64","os":"linux","created":"2025-07-01T00:00:00Z","config":{"User":"app","Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","LANG=C.UTF-8"],` +
		`"Entrypoint":["/app"],"Cmd":["serve"],"WorkingDir":"/srv","ExposedPorts":{"8080/tcp":{}},"Labels":{` + strings.Join(labels, ",") + `}},` +
		`"rootfs":{"type":"layers","diff_ids":["` + digest.FromBytes(fuzzLayers[0]).String() + `"]},"history":[` + strings.Join(history, ",") + `]}`)
	v, err := New(Options{Lint: []LintRule{{Repositories: "team/**", Labels: []string{"org.opencontainers.image.label1"}}}})
	if err != nil {
		b.Fatal(err)
	}
	blobs, m := hostileImage(config)
	b.SetBytes(int64(len(config)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Validate(context.Background(), m, blobs, blobs); err != nil {
			b.Fatal(err)
		}
	}
}
