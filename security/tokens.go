package security

import (
	"context"
	"fmt"

	"github.com/imagegate/imagegate/notify"
)

// TokenUsed counts the distinct client addresses one token — an access
// token "jti:<id>" or a refresh chain "chain:<id>" of subject — is used
// from, for the token_many_addresses detector. A process passes each
// (token, address) pair on at most once per half window; the rest of a
// client's requests cost a map lookup.
func (m *Monitor) TokenUsed(ctx context.Context, token, subject, addr string) {
	if m == nil {
		return
	}
	rule := m.cfg.TokenAddresses
	if rule.Threshold == 0 || !m.seen.fresh("token\x00"+token+"\x00"+addr, m.now(), rule.Window/2) {
		return
	}
	m.enqueue(ctx, func(ctx context.Context) error {
		marks, err := m.count(ctx, TokenAddresses, token, addr, true, rule)
		if marks != nil {
			addrs := values(marks, maxAddresses)
			m.raise(ctx, incident{detector: TokenAddresses, subject: "token/" + token,
				user: &notify.User{Subject: subject},
				reason: fmt.Sprintf("token %s of %q used from %d distinct addresses within %s",
					token, subject, len(addrs), rule.Window),
				sec: windowed(notify.Security{ClientIP: addr, Token: token, Addresses: addrs}, marks,
					rule.Threshold, rule.Window, rule.Cooldown)})
		}
		return err
	})
}
