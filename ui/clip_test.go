package ui

import (
	"strings"
	"testing"

	"github.com/imagegate/imagegate/metadata"
)

func TestClip(t *testing.T) {
	long := strings.Repeat("a", maxShownText-1) + "é" + "tail" // the cut falls inside é
	for _, c := range []struct {
		name, got, want string
	}{
		{"short", clip("ok"), "ok"},
		{"at the bound", clip(strings.Repeat("x", maxShownText)), strings.Repeat("x", maxShownText)},
		{"on a rune boundary", clip(long), strings.Repeat("a", maxShownText-1) + "… (517 bytes)"},
		{"reason", clipReason(strings.Repeat("r", 3<<20)), strings.Repeat("r", maxShownReason) + "… (3145728 bytes)"},
		{"words", clipJoin([]string{"sh", "-c", "true"}), "sh -c true"},
		{"no words", clipJoin(nil), ""},
		{"many words", clipJoin(strings.Fields(strings.Repeat("w ", 1_000_000))), strings.Repeat("w ", maxShownText/2) + "… (1999999 bytes)"},
		{"one huge word", clipJoin([]string{strings.Repeat("y", 1<<20)}), strings.Repeat("y", maxShownText) + "… (1048576 bytes)"},
		// Texts the API cut already say their whole length, not the cut one's.
		{"cut by the API", clip(strings.Repeat("c", 16<<10) + "… (200004 bytes)"), strings.Repeat("c", maxShownText) + "… (200004 bytes)"},
		{"word cut by the API", clipJoin([]string{"sh", strings.Repeat("c", 16<<10) + "… (200004 bytes)"}), "sh " + strings.Repeat("c", maxShownText-3) + "… (200007 bytes)"},
		{"a short text like a marker", clip("x… (99999 bytes)"), "x… (99999 bytes)"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %q…, want %q…", c.name, c.got[:min(len(c.got), 40)], c.want[:min(len(c.want), 40)])
		}
		if len(c.got) > maxShownReason+len("… (1999999 bytes)") {
			t.Errorf("%s: %d bytes", c.name, len(c.got))
		}
	}
}

func TestShownLabels(t *testing.T) {
	labels := map[string]string{}
	for i := range 250 {
		labels[strings.Repeat("k", i+1)] = strings.Repeat("v", 2*maxShownText)
	}
	shown, total := shownLabels(labels)
	if total != 250 || len(shown) != maxShownLabels {
		t.Fatalf("%d of %d shown, want %d of 250", len(shown), total, maxShownLabels)
	}
	if shown[0].Key != "k" || shown[1].Key != "kk" || !strings.HasSuffix(shown[0].Value, "… (1024 bytes)") {
		t.Errorf("first labels %q=%q…, %q: want sorted by key, values cut", shown[0].Key, shown[0].Value[:10], shown[1].Key)
	}
	if shown, total := shownLabels(nil); shown != nil || total != 0 {
		t.Errorf("no labels: %v, %d", shown, total)
	}
}

func TestShownPlatforms(t *testing.T) {
	many := make([]metadata.Platform, 250)
	for i := range many {
		many[i] = metadata.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}
	}
	many[0] = metadata.Platform{OS: strings.Repeat("o", 1<<20), Architecture: "amd64"}
	shown := shownPlatforms(many)
	if len(shown) != maxShownPlatforms {
		t.Fatalf("%d shown, want %d", len(shown), maxShownPlatforms)
	}
	if want := strings.Repeat("o", maxShownText) + "… (1048576 bytes)/amd64"; shown[0] != want {
		t.Errorf("first platform %q…, want the os cut", shown[0][:20])
	}
	if shown[1] != "linux/arm/v7" {
		t.Errorf("second platform %q", shown[1])
	}
}

// TestBoundCountsTheConfigsLabels: the API answers the first labels of
// many and says how many there are; the page counts those, not the ones
// it was given.
func TestBoundCountsTheConfigsLabels(t *testing.T) {
	v := imageView{Config: &imageConfig{Labels: map[string]string{"a": "1", "b": "2"}, LabelCount: 1900}}
	v.bound()
	if len(v.Labels) != 2 || v.LabelCount != 1900 {
		t.Errorf("%d labels shown of %d, want 2 of 1900", len(v.Labels), v.LabelCount)
	}
}
