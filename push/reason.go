package push

import (
	"fmt"
	"unicode/utf8"
)

// maxRecordedReason bounds the reason a rejected push is recorded, logged
// and published with, in bytes. A refusal may quote what the pusher sent
// (a layer URL of megabytes); the record is listed 50 to a page by the
// API and the web UI, so five such refusals made the repository page 79 MB.
const maxRecordedReason = 2048

// boundReason is reason cut to maxRecordedReason bytes on a rune
// boundary, ending "… (N bytes)" with its whole length when cut.
func boundReason(reason string) string {
	if len(reason) <= maxRecordedReason {
		return reason
	}
	cut := maxRecordedReason
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut] + fmt.Sprintf("… (%d bytes)", len(reason))
}
