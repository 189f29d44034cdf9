package actuator

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/nomad/api"
)

// Leader elects one acting replica by a lock on a Nomad variable, as
// nomad-autoscaler does. Replicas that do not hold the lock answer the
// webhook but change nothing.
type Leader struct {
	Client *api.Client
	Path   string
	NS     string
	TTL    time.Duration
	Log    *slog.Logger
	// OnChange is told when leadership is gained or lost (metrics).
	OnChange func(bool)

	mu     sync.Mutex
	leader bool
	lastOK time.Time
}

// IsLeader is true while the lock was renewed within its TTL.
func (l *Leader) IsLeader() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	// A renewal that stalls must not leave us acting past the TTL, when
	// another replica may already hold the lock.
	return l.leader && time.Since(l.lastOK) < l.TTL
}

func (l *Leader) set(v bool) {
	l.mu.Lock()
	changed := l.leader != v
	l.leader = v
	if v {
		l.lastOK = time.Now()
	}
	l.mu.Unlock()
	if changed {
		l.Log.Info("leadership changed", "leader", v, "variable", l.Path)
		if l.OnChange != nil {
			l.OnChange(v)
		}
	}
}

// Run acquires and renews the lock until ctx ends, then releases it.
func (l *Leader) Run(ctx context.Context) error {
	if l.TTL <= 0 {
		l.TTL = 15 * time.Second
	}
	v := api.Variable{Namespace: l.NS, Path: l.Path, Lock: &api.VariableLock{TTL: l.TTL.String(), LockDelay: l.TTL.String()}}
	locks, err := l.Client.Locks(api.WriteOptions{Namespace: l.NS}, v, api.LocksOptionWithMaxRetries(2))
	if err != nil {
		return err
	}
	tick := time.NewTicker(l.TTL / 3)
	defer tick.Stop()
	for {
		if l.IsLeader() {
			if err := locks.Renew(ctx); err != nil {
				l.Log.Warn("leader lock renewal failed", "err", err)
				l.set(false)
			} else {
				l.set(true)
			}
		} else {
			_, err := locks.Acquire(ctx)
			switch {
			case err == nil:
				l.set(true)
			case errors.Is(err, api.ErrLockConflict):
				l.set(false) // someone else leads
			default:
				l.Log.Warn("leader lock acquire failed", "err", err)
				l.set(false)
			}
		}
		select {
		case <-ctx.Done():
			if l.IsLeader() {
				rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := locks.Release(rctx)
				cancel()
				l.set(false)
				return err
			}
			return nil
		case <-tick.C:
		}
	}
}
