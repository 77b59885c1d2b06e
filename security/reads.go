package security

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/imagegate/imagegate/auth"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/notify"
)

// readAgain is how often a process passes on a robot's read of a
// repository it passed on already (to keep the robot's set alive).
const readAgain = time.Hour

// readSet is what a robot has read, in the fleet store: digests of the
// repositories, oldest first, at most robotreads.maxrepositories.
type readSet struct {
	// Since is the robot's first read: learning ends Since + learning.
	Since time.Time `json:"s"`
	// Touched is the last write; the set expires robotreads.remember
	// after it.
	Touched time.Time `json:"u"`
	Repos   []string  `json:"r"`
	Quiet   time.Time `json:"q,omitzero"`
}

// RepositoryRead checks a pull of repository by subject for the
// robot_new_repository detector: only robots (method auth.MethodRobot)
// are watched. A read of a repository not in the robot's set adds it, and
// raises an alert once the robot's learning period is over and it is not
// cooling down.
func (m *Monitor) RepositoryRead(ctx context.Context, subject, method, repository, addr string) {
	if m == nil {
		return
	}
	rr := m.cfg.RobotReads
	if !rr.Enabled || method != auth.MethodRobot || !m.seen.fresh("read\x00"+subject+"\x00"+repository, m.now(), readAgain) {
		return
	}
	m.enqueue(ctx, func(ctx context.Context) error {
		var (
			fire  bool
			known int
			since time.Time
		)
		repo := digestOf(repository)
		_, err := fleet.Update(ctx, m.store, Space, storeKey(RobotNewRepository, subject), rr.Remember, func(cur []byte, exists bool) ([]byte, error) {
			fire = false
			var s readSet
			if exists && json.Unmarshal(cur, &s) != nil {
				exists, s = false, readSet{}
			}
			now := m.now()
			if !exists {
				s.Since = now
			}
			if slices.Contains(s.Repos, repo) {
				if now.Sub(s.Touched) < rr.Remember/4 {
					return nil, errQuiet
				}
			} else {
				s.Repos = append(s.Repos, repo)
				if over := len(s.Repos) - rr.MaxRepositories; over > 0 {
					s.Repos = slices.Delete(s.Repos, 0, over)
				}
				if !now.Before(s.Since.Add(rr.Learning)) && !now.Before(s.Quiet) {
					fire, s.Quiet = true, now.Add(rr.Cooldown)
				}
			}
			s.Touched, known, since = now, len(s.Repos), s.Since
			return json.Marshal(s)
		})
		if errors.Is(err, errQuiet) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("security: remembering %s's reads: %w", subject, err)
		}
		if fire {
			m.raise(ctx, incident{detector: RobotNewRepository, subject: repository, repository: repository,
				user: &notify.User{Subject: subject, Method: method},
				reason: fmt.Sprintf("robot %q pulled %s for the first time (watched since %s; %d repositories known)",
					subject, repository, since.UTC().Format(time.RFC3339), known),
				sec: notify.Security{ClientIP: addr, Count: 1, Since: since.UTC(),
					CooldownSeconds: int64(rr.Cooldown / time.Second)}})
		}
		return nil
	})
}

var _ auth.Watcher = (*Monitor)(nil)
