package imageconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// TestRead: the fields a person inspects, as encoding/json reads them
// (names in any case, null, the last of a repeated name), never the
// environment.
func TestRead(t *testing.T) {
	raw := `{"created":"2025-07-01T00:00:00Z","Author":"alice","os":"linux","architecture":"arm64","variant":"v8",
	 "config":{"User":"app","Env":["API_TOKEN=hunter2"],"Entrypoint":null,"Cmd":["/bin/sh","-c","make"],"WorkingDir":"/srv",
	  "ExposedPorts":{"8080/tcp":{},"53/udp":{}},"Labels":{"b":"2","a":"1","b":"3"}},
	 "rootfs":{"type":"layers","diff_ids":[]},"history":[{"created_by":"x"}]}`
	s, err := Read(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	if s.Created == nil || !s.Created.Equal(created) || s.Author != "alice" || s.OS != "linux" || s.Architecture != "arm64" ||
		s.Variant != "v8" || s.User != "app" || s.WorkingDir != "/srv" || s.Entrypoint != nil ||
		!slices.Equal(s.Cmd, []string{"/bin/sh", "-c", "make"}) || !slices.Equal(s.ExposedPorts, []string{"8080/tcp", "53/udp"}) ||
		!maps.Equal(s.Labels, map[string]string{"a": "1", "b": "3"}) || s.LabelCount != 3 || s.Truncated != nil {
		t.Fatalf("%+v", s)
	}
	if strings.Contains(fmt.Sprintf("%+v", s), "hunter2") {
		t.Fatal("the environment was read")
	}
}

// TestReadBounds: a config of megabytes of labels, a long author, a
// command of many words: what is kept fits the bounds, the first labels
// by key whatever their order, each cut text says its length, and
// Truncated names what is not whole.
func TestReadBounds(t *testing.T) {
	// Labels in reverse order of their keys (encoding/json would sort them).
	var labels strings.Builder
	labels.WriteString("{")
	for i := range 2000 {
		fmt.Fprintf(&labels, "%q:%q,", fmt.Sprintf("z%05d", 1999-i), strings.Repeat("'", 4096))
	}
	fmt.Fprintf(&labels, "%q:%q}", "big", strings.Repeat("é", 40_000)) // 80,000 bytes: cut at 64 KiB on a rune boundary
	words := make([]string, 3000)
	for i := range words {
		words[i] = "word"
	}
	words[0] = strings.Repeat("w", 20_000)
	raw := encode(t, map[string]any{"author": strings.Repeat("a", 10_000),
		"config": map[string]any{"Labels": json.RawMessage(labels.String()), "Cmd": words, "User": "app"}})
	s, err := Read(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Repeat("a", MaxText) + "… (10000 bytes)"; s.Author != want {
		t.Errorf("author %.40q…, want cut at %d with its length", s.Author, MaxText)
	}
	if s.LabelCount != 2001 || !slices.Equal(s.Truncated, []string{"author", "cmd", "labels"}) {
		t.Errorf("label count %d, truncated %q", s.LabelCount, s.Truncated)
	}
	size := 0
	for k, v := range s.Labels {
		size += len(k) + len(v)
	}
	keys := slices.Sorted(maps.Keys(s.Labels))
	if size > MaxLabelBytes || len(keys) < 40 || keys[0] != "big" || keys[1] != "z00000" || keys[len(keys)-1] != fmt.Sprintf("z%05d", len(keys)-2) {
		t.Errorf("%d labels kept (%d bytes): %q … %q, want the first by key within %d bytes", len(keys), size, keys[0], keys[len(keys)-1], MaxLabelBytes)
	}
	if v := s.Labels["big"]; !strings.HasSuffix(v, "… (80000 bytes)") || len(v) > MaxLabelValue+20 || !strings.HasPrefix(v, "éé") ||
		strings.ContainsRune(v, '\uFFFD') {
		t.Errorf("the big label: %d bytes ending %q", len(v), v[max(0, len(v)-20):])
	}
	if n := len(strings.Join(s.Cmd, "")); n > MaxListBytes || len(s.Cmd) < 100 || s.Cmd[0] != strings.Repeat("w", MaxCommand)+"… (20000 bytes)" {
		t.Errorf("cmd: %d words, %d bytes, first %d bytes", len(s.Cmd), n, len(s.Cmd[0]))
	}
	if s.User != "app" {
		t.Errorf("user %q", s.User)
	}
}

// TestReadErrors: JSON that is not an image config wraps ErrInvalid; the
// reader's own failure is not taken for one.
func TestReadErrors(t *testing.T) {
	for _, raw := range []string{`{"config":`, `[]`, `{"author":3}`, `{"config":{"Labels":{"a":1}}}`, `{"created":"yesterday"}`, `{"config":{"Cmd":"make"}}`} {
		if _, err := Read(strings.NewReader(raw)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", raw, err)
		}
	}
	broken := errors.New("disk on fire")
	_, err := Read(io.MultiReader(strings.NewReader(`{"author":"a`), iotest.ErrReader(broken)))
	if !errors.Is(err, broken) || errors.Is(err, ErrInvalid) {
		t.Errorf("a failing reader: %v, want its error", err)
	}
}

// TestReadHistory: the entries that made a layer, the first n, their
// commands cut; the rest of the config skipped.
func TestReadHistory(t *testing.T) {
	raw := encode(t, map[string]any{"config": map[string]any{"Labels": map[string]string{"a": strings.Repeat("x", 1<<20)}},
		"history": []map[string]any{
			{"created_by": "ADD base /", "comment": "c"},
			{"created_by": "ENV A=1", "empty_layer": true},
			{"created_by": "RUN " + strings.Repeat("'", 200_000)},
			{"created_by": "RUN third"},
		}})
	h, err := ReadHistory(strings.NewReader(raw), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].CreatedBy != "ADD base /" || h[0].Comment != "" || !strings.HasSuffix(h[1].CreatedBy, "… (200004 bytes)") ||
		len(h[1].CreatedBy) > MaxCommand+20 {
		t.Fatalf("%d entries: %.200v", len(h), h)
	}
}

// encode is v as JSON, as a client would push it.
func encode(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
