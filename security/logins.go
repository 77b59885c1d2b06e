package security

import (
	"context"
	"errors"
	"fmt"

	"github.com/imagegate/imagegate/notify"
)

// LoginFailed counts a failed password login by username from addr for
// the password_spraying detector (distinct usernames per address) and the
// brute_force detector (failures per username, any address). username is
// "" for federated logins, which brute_force does not count: many clients
// share their usernames. Usernames are kept only as digests.
func (m *Monitor) LoginFailed(ctx context.Context, username, addr string) {
	if m == nil {
		return
	}
	spray, brute := m.cfg.PasswordSpraying, m.cfg.BruteForce
	if spray.Threshold == 0 && (brute.Threshold == 0 || username == "") {
		return
	}
	m.enqueue(ctx, func(ctx context.Context) error {
		var errs []error
		if spray.Threshold > 0 {
			marks, err := m.count(ctx, PasswordSpraying, addr, digestOf(username), true, spray)
			errs = append(errs, err)
			if marks != nil {
				m.raise(ctx, incident{detector: PasswordSpraying, subject: "client/" + addr,
					reason: fmt.Sprintf("client %s failed logins for %d distinct usernames within %s", addr, len(marks), spray.Window),
					sec:    windowed(notify.Security{ClientIP: addr}, marks, spray.Threshold, spray.Window, spray.Cooldown)})
			}
		}
		if brute.Threshold > 0 && username != "" {
			marks, err := m.count(ctx, BruteForce, username, addr, false, brute)
			errs = append(errs, err)
			if marks != nil {
				addrs := values(marks, maxAddresses)
				m.raise(ctx, incident{detector: BruteForce, subject: "user/" + username,
					user: &notify.User{Subject: username},
					reason: fmt.Sprintf("%d failed logins for user %q from %d addresses within %s",
						len(marks), username, len(addrs), brute.Window),
					sec: windowed(notify.Security{ClientIP: addr, Addresses: addrs}, marks, brute.Threshold, brute.Window, brute.Cooldown)})
			}
		}
		return errors.Join(errs...)
	})
}
