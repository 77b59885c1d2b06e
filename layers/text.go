package layers

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// truncate cuts s to at most n bytes on a rune boundary, ending it with
// "…" when it cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:max(cut, 0)] + "…"
}

// command is how a hint quotes a layer's history entry: without the
// "/bin/sh -c " and "#(nop) " of the classic builder, cut to 60 bytes.
func command(createdBy string) string {
	c := strings.TrimSpace(createdBy)
	c = strings.TrimPrefix(c, "/bin/sh -c ")
	c = strings.TrimPrefix(c, "#(nop) ")
	return truncate(strings.TrimSpace(c), 60)
}

// HumanBytes prints n in decimal units (412 MB), as Dive and docker do
// (also the web UI's sizes).
func HumanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if v >= 100 {
		return fmt.Sprintf("%.0f %cB", v, "kMGTPE"[exp])
	}
	return fmt.Sprintf("%.1f %cB", v, "kMGTPE"[exp])
}

// files is "1 file" or "n files".
func files(n int) string {
	if n == 1 {
		return "1 file"
	}
	return fmt.Sprintf("%d files", n)
}
