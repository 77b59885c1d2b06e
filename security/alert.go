package security

import (
	"context"
	"log/slog"
	"time"

	"github.com/imagegate/imagegate/internal/reqctx"
	"github.com/imagegate/imagegate/notify"
)

// maxAddresses bounds the addresses an alert lists.
const maxAddresses = 20

// incident is one detection, as every output reports it.
type incident struct {
	detector string
	// subject is what it is about: "client/<addr>", "user/<name>",
	// "token/<id>", a repository.
	subject    string
	repository string
	user       *notify.User
	reason     string
	sec        notify.Security
}

// raise reports in: one audit line, one count, one webhook event.
func (m *Monitor) raise(ctx context.Context, in incident) {
	t := eventType[in.detector]
	in.sec.Detector = in.detector
	m.metrics.detections.WithLabelValues(in.detector).Inc()
	attrs := []slog.Attr{
		slog.String("audit", "security"),
		slog.String("event", t.Short()),
		slog.String("detector", in.detector),
		slog.String("subject", in.subject),
		slog.String("reason", in.reason),
		slog.Int("count", in.sec.Count),
	}
	if in.sec.Threshold > 0 {
		attrs = append(attrs, slog.Int("threshold", in.sec.Threshold),
			slog.Int64("window_ms", in.sec.WindowSeconds*1000))
	}
	if in.repository != "" {
		attrs = append(attrs, slog.String("repository", in.repository))
	}
	if in.user != nil {
		attrs = append(attrs, slog.String("user", in.user.Subject))
	}
	if in.sec.ClientIP != "" {
		attrs = append(attrs, slog.String("client_ip", in.sec.ClientIP))
	}
	if in.sec.Token != "" {
		attrs = append(attrs, slog.String("token", in.sec.Token))
	}
	if len(in.sec.Addresses) > 0 {
		attrs = append(attrs, slog.Any("addresses", in.sec.Addresses))
	}
	if len(in.sec.Layers) > 0 {
		attrs = append(attrs, slog.Any("layers", in.sec.Layers), slog.String("refused_in", in.sec.RefusedIn))
	}
	m.logger.LogAttrs(ctx, slog.LevelWarn, "suspicious activity", attrs...)
	if m.alerts != nil {
		m.alerts.Security(ctx, notify.SecurityAlert{Type: t, Subject: in.subject, At: m.now(),
			Repository: in.repository, User: in.user, RequestID: reqctx.ID(ctx), Reason: in.reason, Security: in.sec})
	}
}

// windowed fills the counting fields of sec from the marks that fired
// and the rule's window and cooldown.
func windowed(sec notify.Security, marks []mark, threshold int, window, cooldown time.Duration) notify.Security {
	sec.Count, sec.Threshold = len(marks), threshold
	sec.WindowSeconds, sec.CooldownSeconds = int64(window/time.Second), int64(cooldown/time.Second)
	if len(marks) > 0 {
		sec.Since = marks[0].T.UTC()
	}
	return sec
}
