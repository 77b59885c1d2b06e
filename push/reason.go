package push

import (
	"fmt"
	"unicode/utf8"
)

// What a push record keeps of what the pusher wrote is bounded: records
// are listed 50 to a page by the API and the web UI, with their reasons,
// media types, platforms, layers and their scans' findings.
const (
	// maxRecordedReason bounds the reason a push is recorded, logged and
	// published with, in bytes. A refusal may quote what the pusher sent
	// (a layer URL of megabytes): five such refusals made the repository
	// page 79 MB.
	maxRecordedReason = 2048
	// maxRecordedName bounds a recorded finding's ID, package and
	// versions, in bytes: the image names its packages and their
	// versions, and a scan records up to 1,000 findings.
	maxRecordedName = 256
	// maxUnvalidatedList bounds the layers and index entries the record
	// of a manifest refused before validation keeps (validation.maxlayers'
	// default).
	maxUnvalidatedList = 256
	// maxRecordedUserAgent bounds the User-Agent a record keeps, in
	// bytes: a header may be up to 1 MiB.
	maxRecordedUserAgent = 512
)

// boundReason is reason cut to maxRecordedReason bytes (cutAt).
func boundReason(reason string) string { return cutAt(reason, maxRecordedReason) }

// cutAt is s cut to n bytes on a rune boundary, ending "… (N bytes)" with
// its whole length when cut.
func cutAt(s string, n int) string {
	if len(s) <= n {
		return s
	}
	c := n
	for c > 0 && !utf8.RuneStart(s[c]) {
		c--
	}
	return s[:c] + fmt.Sprintf("… (%d bytes)", len(s))
}
