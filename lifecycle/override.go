package lifecycle

import (
	"net/http"
	"strings"
	"unicode"
)

// OverrideHeader is the request header an administrator sends, with a
// reason, to move or delete an immutable tag (a manifest PUT, an upload,
// a DELETE). It is honoured only when the request's token is an
// administrator's (bound admin on "**"); for anyone else it is ignored
// and the change refused as without it. Every override is recorded, with
// its reason, in the record of the push or deletion and as an audit line.
const OverrideHeader = "Imagegate-Override-Immutable"

// maxReason bounds the reason an override records.
const maxReason = 256

// OverrideReason is the reason r's OverrideHeader gives, cleaned: control
// characters dropped, trimmed, cut at 256 characters; "" when absent.
func OverrideReason(r *http.Request) string {
	if r == nil {
		return ""
	}
	return CleanReason(r.Header.Get(OverrideHeader))
}

// CleanReason makes s safe to record: printable characters only, trimmed,
// at most 256 runes.
func CleanReason(s string) string {
	s = strings.Map(func(c rune) rune {
		if !unicode.IsPrint(c) {
			return -1
		}
		return c
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > maxReason {
		s = string(r[:maxReason])
	}
	return s
}

// MayOverride reports whether a request whose caller is admin (or not)
// and which sent reason may override an immutability rule.
func MayOverride(admin bool, reason string) bool { return admin && reason != "" }
