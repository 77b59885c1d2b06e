package ui

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/imagegate/imagegate/metadata"
)

// A pusher controls every byte of an image's config (up to the gate's 8
// MiB), of an index (4 MiB of children and their platforms), of the
// package versions a scan reports and of how often a manifest is tagged:
// a page showing all of it could be tens of megabytes of escaped text,
// rendered in the server's memory and the viewer's browser at every view.
// The image page therefore shows it within these bounds and says what it
// left out; the whole config is the blob at /v2/{name}/blobs/{config
// digest} (its fields at GET …/config), the rest in the API's answers.
const (
	// maxShownText bounds one text of the config shown (a label's key or
	// value, the author, a command, a layer's history entry), in bytes.
	maxShownText = 512
	// maxShownName bounds a finding's ID, package and versions, in bytes:
	// a scan records up to 1,000 findings, and a pusher writes the
	// versions (and the names of packages in the image).
	maxShownName = 160
	// maxShownReason bounds a record's reason, in bytes: a refusal may
	// quote what the pusher sent, and a history lists 50 records.
	maxShownReason = 2048
	// maxShownLabels bounds the labels shown.
	maxShownLabels = 100
	// maxShownPlatforms bounds the platforms shown (an index's children).
	maxShownPlatforms = 100
	// maxShownTagEvents bounds the tag history shown, newest first: the
	// API lists the events of up to 1,000 records, and an upload may tag
	// a manifest 64 times.
	maxShownTagEvents = 100
)

// clip is s cut to maxShownText bytes on a rune boundary; a cut text
// ends with "… (N bytes)", N its whole length — the one the API's
// marker says, when the API cut it already.
func clip(s string) string {
	if len(s) <= maxShownText {
		return s
	}
	text, whole := wholeOf(s)
	return cutTo(text, whole)
}

// wholeOf is a text the API answered without its "… (N bytes)" marker
// and N, when the API cut it (internal/imageconfig: the config's texts;
// push records: reasons and names); else s and its length.
func wholeOf(s string) (text string, whole int) {
	i := strings.LastIndex(s, "… (")
	if i < 0 || !strings.HasSuffix(s, " bytes)") {
		return s, len(s)
	}
	n, err := strconv.Atoi(s[i+len("… (") : len(s)-len(" bytes)")])
	if err != nil || n <= i {
		return s, len(s)
	}
	return s[:i], n
}

// clipName is s cut to maxShownName bytes like clip.
func clipName(s string) string {
	if len(s) <= maxShownName {
		return s
	}
	return cutAt(s, maxShownName, len(s))
}

// clipReason is s cut to maxShownReason bytes like clip.
func clipReason(s string) string {
	if len(s) <= maxShownReason {
		return s
	}
	return cutAt(s, maxShownReason, len(s))
}

// clipJoin is the words of a command joined by spaces, cut like clip: an
// entrypoint of a million words is one bounded text, and joining it
// copies no more than the bound.
func clipJoin(words []string) string {
	whole := max(len(words)-1, 0)
	for _, w := range words {
		n := len(w)
		if n > maxShownText {
			_, n = wholeOf(w) // a word the API cut
		}
		whole += n
	}
	var b strings.Builder
	for i, w := range words {
		if b.Len() > maxShownText {
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w[:min(len(w), maxShownText+1)])
	}
	if whole <= maxShownText {
		return b.String()
	}
	return cutTo(b.String(), whole)
}

// cutTo is s cut to maxShownText bytes on a rune boundary, followed by
// "… (whole bytes)".
func cutTo(s string, whole int) string { return cutAt(s, maxShownText, whole) }

// cutAt is s cut to n bytes on a rune boundary, followed by "… (whole
// bytes)".
func cutAt(s string, n, whole int) string {
	if len(s) > n {
		cut := n
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s + fmt.Sprintf("… (%d bytes)", whole)
}

// label is one label as the page shows it.
type label struct{ Key, Value string }

// shownLabels are the first maxShownLabels labels by key, each clipped,
// and how many there are in all.
func shownLabels(labels map[string]string) (shown []label, total int) {
	keys := slices.Sorted(maps.Keys(labels))
	for _, k := range keys[:min(len(keys), maxShownLabels)] {
		shown = append(shown, label{Key: clip(k), Value: clip(labels[k])})
	}
	return shown, len(keys)
}

// shownPlatforms are the first maxShownPlatforms platforms as
// "os/architecture[/variant]", each clipped.
func shownPlatforms(platforms []metadata.Platform) []string {
	shown := make([]string, 0, min(len(platforms), maxShownPlatforms))
	for _, p := range platforms[:min(len(platforms), maxShownPlatforms)] {
		s := clip(p.OS) + "/" + clip(p.Architecture)
		if p.Variant != "" {
			s += "/" + clip(p.Variant)
		}
		shown = append(shown, s)
	}
	return shown
}

// bound keeps of v what the page shows of the pusher's lists: the first
// labels and platforms, the newest tag events, and how many there are
// (of the labels, as many as the API says the config lists: its answer
// holds the first of them).
func (v *imageView) bound() {
	if v.Config != nil {
		v.Labels, v.LabelCount = shownLabels(v.Config.Labels)
		v.LabelCount = max(v.LabelCount, v.Config.LabelCount)
	}
	if v.Latest != nil {
		v.Platforms = shownPlatforms(v.Latest.Platforms)
	}
	v.TagEvents, v.TagHistory = len(v.TagHistory), v.TagHistory[:min(len(v.TagHistory), maxShownTagEvents)]
}
