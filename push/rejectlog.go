package push

import (
	"log/slog"

	"github.com/imagegate/imagegate/metadata"
)

// verdictScanFailed is the verdict of a push refused because its scan
// did not finish (onerror: reject).
const verdictScanFailed = "scan-failed-rejected"

// rejectAttrs are the fields of the one line a refusal is logged with
// ("push rejected"): repository, digest, reason, record_id, and when the
// gate scanned, the verdict and the scan's error. No stage logs the same
// refusal again.
func rejectAttrs(rec *metadata.Record, reason string) []slog.Attr {
	attrs := []slog.Attr{
		slog.String("repository", rec.Repository),
		slog.String("digest", rec.Digest.String()),
		slog.String("reason", reason),
		slog.String("record_id", rec.ID),
	}
	if rec.Scan != nil {
		if rec.Scan.Verdict != "" {
			attrs = append(attrs, slog.String("verdict", rec.Scan.Verdict))
		}
		if rec.Scan.Error != "" {
			attrs = append(attrs, slog.String("scan_error", rec.Scan.Error))
		}
	}
	return attrs
}

// rejectLevel is info for a refusal the pusher caused (policy, validation)
// and warn for one the server did (its scan failed): an operator has
// something to fix only in the second case.
func rejectLevel(rec *metadata.Record) slog.Level {
	if rec.Scan != nil && rec.Scan.Verdict == verdictScanFailed {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}
