package analysis

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Bytes writes n in decimal units as Dive and docker do: "412 MB",
// "3.5 kB", "17 B".
func Bytes(n int64) string {
	const unit = 1000
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	i := -1
	for _, u := range []string{"kB", "MB", "GB", "TB", "PB"} {
		f /= unit
		i++
		if f < unit && f > -unit {
			return number(f) + " " + u
		}
	}
	return number(f) + " EB"
}

// percent writes p with one decimal below 10, none above: "38", "2.5".
func percent(p float64) string { return number(p) }

func number(f float64) string {
	if f < 10 && f > -10 {
		return strings.TrimSuffix(strconv.FormatFloat(f, 'f', 1, 64), ".0")
	}
	return strconv.FormatFloat(f, 'f', 0, 64)
}

// maxCommand bounds a history command quoted in a message.
const maxCommand = 60

// Command shortens a config history's created_by for a message: the
// "/bin/sh -c " prefix and "#(nop) " of Docker's builder dropped, one
// line, at most maxCommand characters then "…".
func Command(createdBy string) string {
	s := strings.TrimSpace(createdBy)
	s = strings.TrimPrefix(s, "/bin/sh -c ")
	if strings.HasPrefix(s, "#(nop) ") {
		s = strings.TrimSpace(strings.TrimPrefix(s, "#(nop) "))
	}
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > maxCommand {
		r := []rune(s)
		s = string(r[:maxCommand-1]) + "…"
	}
	return s
}
