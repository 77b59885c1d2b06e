package validate

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"testing"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// fuzzLayers are the layer blobs the fuzzed repository holds.
var fuzzLayers = [][]byte{[]byte("layer zero"), bytes.Repeat([]byte("1"), 300), {}}

// memBlobs is a repository's blobs and manifests in memory; it never
// fails, so every error Validate returns is a refusal.
type memBlobs map[digest.Digest][]byte

func (m memBlobs) Stat(_ context.Context, d digest.Digest) (v1.Descriptor, error) {
	b, ok := m[d]
	if !ok {
		return v1.Descriptor{}, distribution.ErrBlobUnknown
	}
	return v1.Descriptor{Digest: d, Size: int64(len(b))}, nil
}

func (m memBlobs) Open(_ context.Context, d digest.Digest) (io.ReadSeekCloser, error) {
	b, ok := m[d]
	if !ok {
		return nil, distribution.ErrBlobUnknown
	}
	return readSeekNopCloser{bytes.NewReader(b)}, nil
}

func (m memBlobs) Exists(_ context.Context, d digest.Digest) (bool, error) {
	_, ok := m[d]
	return ok, nil
}

type readSeekNopCloser struct{ *bytes.Reader }

func (readSeekNopCloser) Close() error { return nil }

// fuzzTemplate makes a manifest template for the fuzzer: $CONFIG and
// $CSIZE stand for the fuzzed config blob's digest and size, so that
// mutating the config does not orphan the manifest.
func fuzzTemplate(mediaType, configType string, layers ...int) string {
	s := `{"schemaVersion":2,"mediaType":"` + mediaType + `","config":{"mediaType":"` + configType +
		`","digest":"$CONFIG","size":$CSIZE},"layers":[`
	for i, l := range layers {
		if i > 0 {
			s += ","
		}
		s += `{"mediaType":"` + v1.MediaTypeImageLayerGzip + `","digest":"` + digest.FromBytes(fuzzLayers[l]).String() +
			`","size":` + strconv.Itoa(len(fuzzLayers[l])) + `}`
	}
	return s + `],"annotations":{"org.example.team":"a"}}`
}

// FuzzValidate feeds Validate arbitrary manifests and configs. Invariants:
// every refusal is an OCI error with a 4xx status (the stores never fail,
// so nothing may look like a crash); an accepted image has an image
// config whose rootfs has one diff_id per layer and only accepted layer
// types; every accepted manifest references blobs the repository holds
// with the declared sizes (non-distributable layers of artifacts aside)
// and stays within the limits; an accepted artifact was allowed; an
// accepted index names only manifests the repository holds.
func FuzzValidate(f *testing.F) {
	config := []byte(`{"architecture":"amd64","os":"linux","config":{"Labels":{"team":"a"}},"rootfs":{"type":"layers","diff_ids":["` +
		digest.FromString("a").String() + `","` + digest.FromString("b").String() + `"]}}`)
	f.Add(v1.MediaTypeImageManifest, []byte(fuzzTemplate(v1.MediaTypeImageManifest, v1.MediaTypeImageConfig, 0, 1)), config, "team/app", false)
	f.Add(dockerManifest, []byte(fuzzTemplate(dockerManifest, dockerConfig, 1, 2)), config, "other/app", true)
	f.Add(v1.MediaTypeImageManifest, []byte(fuzzTemplate(v1.MediaTypeImageManifest, "application/vnd.example.sbom", 0)), []byte(`{}`), "team/sbom", true)
	f.Add(v1.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"artifactType":"application/x","config":{"mediaType":"`+v1.MediaTypeImageConfig+
		`","digest":"$CONFIG","size":$CSIZE},"layers":[{"mediaType":"`+dockerForeignLayer+`","digest":"`+digest.FromString("x").String()+
		`","size":1,"urls":["https://example.com/x"]}],"subject":{"digest":"`+digest.FromString("s").String()+`"}}`), config, "team/app", true)
	f.Add(v1.MediaTypeImageIndex, []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"`+v1.MediaTypeImageManifest+`","digest":"$CONFIG","size":$CSIZE}]}`),
		config, "team/app", false)
	f.Add(dockerSchema1, []byte(`{"schemaVersion":1}`), []byte(nil), "a", false)
	f.Add(v1.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"config":{"digest":"sha256:x","size":-1},"layers":[{"size":-9223372036854775808}]}`), config, "a", false)

	f.Fuzz(func(t *testing.T, mediaType string, template, config []byte, repo string, allowArtifacts bool) {
		cd := digest.FromBytes(config)
		payload := bytes.ReplaceAll(template, []byte("$CONFIG"), []byte(cd))
		payload = bytes.ReplaceAll(payload, []byte("$CSIZE"), []byte(strconv.Itoa(len(config))))
		blobs := memBlobs{cd: config}
		for _, l := range fuzzLayers {
			blobs[digest.FromBytes(l)] = l
		}
		limits := Limits{MaxLayers: 3, MaxLayerBytes: 256, MaxImageBytes: 1 << 10}
		v, err := New(Options{Limits: limits, AllowArtifacts: allowArtifacts,
			Lint: []LintRule{{Repositories: "team/**", Labels: []string{"team"}, Annotations: []string{"org.example.team"}}}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := v.Validate(context.Background(), Manifest{Repository: repo, MediaType: mediaType, Payload: payload}, blobs, blobs)
		if err != nil {
			requireRefusal(t, err)
			return
		}
		s := res.Shape
		switch res.Kind {
		case KindIndex:
			if !indexTypes[mediaType] {
				t.Fatalf("index accepted under media type %q", mediaType)
			}
			for _, c := range s.Manifests {
				if _, ok := blobs[c.Digest]; !ok {
					t.Fatalf("index accepted with child %s the repository does not hold", c.Digest)
				}
			}
			return
		case KindArtifact:
			if !allowArtifacts {
				t.Fatalf("artifact accepted though artifacts are not allowed: %s", payload)
			}
		case KindImage:
			if !imageConfigTypes[s.Config.MediaType] {
				t.Fatalf("image accepted with config type %q", s.Config.MediaType)
			}
			if res.Config == nil || len(res.Config.DiffIDs) != len(s.Layers) {
				t.Fatalf("image accepted with a config that does not describe its %d layers: %s", len(s.Layers), res.RawConfig)
			}
			for _, l := range s.Layers {
				if !slices.Contains(imageLayerTypes, l.MediaType) {
					t.Fatalf("image accepted with layer type %q", l.MediaType)
				}
			}
		default:
			t.Fatalf("unknown kind %d", res.Kind)
		}
		if !manifestTypes[mediaType] || s.Config == nil {
			t.Fatalf("manifest accepted under media type %q without a config", mediaType)
		}
		if len(s.Layers) > limits.MaxLayers {
			t.Fatalf("%d layers accepted over the limit", len(s.Layers))
		}
		total := int64(0)
		for _, d := range append([]v1.Descriptor{*s.Config}, s.Layers...) {
			total += d.Size
			if len(d.URLs) > 0 && slices.Contains(foreignLayerTypes, d.MediaType) {
				continue // non-distributable: its bytes are elsewhere (only artifacts get here, see KindImage)
			}
			b, ok := blobs[d.Digest]
			if !ok || int64(len(b)) != d.Size {
				t.Fatalf("accepted a descriptor %s of %d bytes the repository does not hold as such", d.Digest, d.Size)
			}
		}
		if total > limits.MaxImageBytes {
			t.Fatalf("image of %d bytes accepted over the limit", total)
		}
		if v.lint[0].pattern.Match(repo) {
			_, annotated := s.Annotations["org.example.team"]
			labelled := res.Config == nil
			if res.Config != nil {
				labelled = res.Config.Labels["team"]
			}
			if !annotated || !labelled {
				t.Fatalf("lint rule bypassed in %q: %s", repo, payload)
			}
		}
	})
}

// requireRefusal fails unless err is an OCI error answered with a 4xx.
func requireRefusal(t *testing.T, err error) {
	t.Helper()
	var e errcode.Error
	if !errors.As(err, &e) {
		t.Fatalf("refusal is not an OCI error: %T %v", err, err)
	}
	if st := e.Code.Descriptor().HTTPStatusCode; st < 400 || st > 499 {
		t.Fatalf("refusal %v answers %d, not a 4xx", err, st)
	}
}
