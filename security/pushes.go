package security

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/notify"
)

// Verdicts of a rejected record that are not the pusher's doing: the
// scanner failed or is still busy (push/scan.go).
var scanTrouble = []string{"scan-in-progress", "scan-failed-rejected"}

// withdrawnPrefix starts the reason of an upload's manifests that passed
// the gate but were not published because another one was refused
// (shim/publish.go): collateral, not refusals of their own.
const withdrawnPrefix = "not published:"

// PushFinished checks a final push record: a refusal by the gate counts
// towards its identity's refused_push_burst, and an accepted (or failed,
// hence gated) push is checked for layers refused as vulnerable in
// another repository (vulnerable_layer_pushed).
func (m *Monitor) PushFinished(ctx context.Context, rec metadata.Record) {
	if m == nil || rec.Kind != metadata.KindPush {
		return
	}
	rule := m.cfg.RefusedPushes
	refused := rule.Threshold > 0 && refusedByGate(rec)
	check := m.cfg.VulnerableLayers.Enabled && len(rec.Layers) > 0 &&
		(rec.Status == metadata.StatusAccepted || rec.Status == metadata.StatusFailed)
	if !refused && !check {
		return
	}
	m.enqueue(ctx, func(ctx context.Context) error {
		var errs []error
		if refused {
			errs = append(errs, m.countRefusal(ctx, rec))
		}
		if check {
			errs = append(errs, m.checkLayers(ctx, rec))
		}
		return errors.Join(errs...)
	})
}

// refusedByGate reports whether rec is a refusal the pusher caused: the
// gate's verdict on the content, not a scanner failure and not an upload's
// withdrawn manifest.
func refusedByGate(rec metadata.Record) bool {
	if rec.Status != metadata.StatusRejected || strings.HasPrefix(rec.Reason, withdrawnPrefix) {
		return false
	}
	for _, v := range scanTrouble {
		if rec.Scan != nil && rec.Scan.Verdict == v {
			return false
		}
	}
	return true
}

// identityOf names who pushed rec: the subject, or the client address of
// an anonymous push.
func identityOf(rec metadata.Record) string {
	if rec.User.Subject != "" {
		return rec.User.Subject
	}
	return "anonymous@" + rec.ClientIP
}

// countRefusal counts a refusal towards its identity's burst.
func (m *Monitor) countRefusal(ctx context.Context, rec metadata.Record) error {
	rule, who := m.cfg.RefusedPushes, identityOf(rec)
	marks, err := m.count(ctx, RefusedPushes, who, rec.Repository, false, rule)
	if marks != nil {
		repos := values(marks, maxAddresses)
		m.raise(ctx, incident{detector: RefusedPushes, subject: "user/" + who,
			user: &notify.User{Subject: rec.User.Subject, Method: rec.User.Method},
			reason: fmt.Sprintf("%d pushes of %q refused by the gate within %s (repositories: %s)",
				len(marks), who, rule.Window, strings.Join(repos, ", ")),
			sec: windowed(notify.Security{ClientIP: rec.ClientIP}, marks, rule.Threshold, rule.Window, rule.Cooldown)})
	}
	return err
}
