package actuator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/fleetcast/fleetcast/internal/nomadver"
)

// Leader elects one acting replica by a lock on a Nomad variable, as
// nomad-autoscaler does. Replicas that do not hold the lock change nothing:
// they answer not_leader (200) while they see another replica hold it, and
// 503 while nobody is known to hold it, so Alertmanager retries and no
// alert is dropped between two leaders.
type Leader struct {
	Client *api.Client
	Path   string
	NS     string
	TTL    time.Duration
	Log    *slog.Logger
	// OnChange is told when leadership is gained or lost (metrics).
	OnChange func(bool)
	// Now is the clock the lease and the error log's rate run on (time.Now
	// when nil), so a test can pass a TTL without waiting for it.
	Now func() time.Time

	mu        sync.Mutex
	leader    bool
	lastOK    time.Time
	otherSeen time.Time // when another replica was last seen holding the lock
	lastErr   string
	errLogged time.Time
}

// IsLeader is true while the lock was renewed within its TTL.
func (l *Leader) IsLeader() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	// A renewal that stalls must not leave us acting past the TTL, when
	// another replica may already hold the lock.
	return l.leader && l.now().Sub(l.lastOK) < l.TTL
}

func (l *Leader) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// OtherLeads is true while another replica was seen holding the lock within
// the last TTL.
func (l *Leader) OtherLeads() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.otherSeen.IsZero() && l.now().Sub(l.otherSeen) < l.TTL
}

func (l *Leader) set(v bool) {
	l.mu.Lock()
	changed := l.leader != v
	l.leader = v
	if v {
		l.lastOK = l.now()
		l.otherSeen = time.Time{}
	}
	l.mu.Unlock()
	if changed {
		l.Log.Info("leadership changed", "leader", v, "variable", l.Path)
		if l.OnChange != nil {
			l.OnChange(v)
		}
	}
}

// failed logs a lock error once per change of message and at most once a
// minute otherwise: a server that cannot lock must not flood the log.
func (l *Leader) failed(ctx context.Context, what string, err error) {
	if ctx.Err() != nil {
		return // shutting down
	}
	msg := err.Error()
	l.mu.Lock()
	again := msg == l.lastErr && l.now().Sub(l.errLogged) < time.Minute
	if !again {
		l.lastErr, l.errLogged = msg, l.now()
	}
	l.mu.Unlock()
	if !again {
		l.Log.Error(what+": no replica is known to lead, alerts get 503 until one does", "variable", l.Path, "err", err)
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
		// Each call is bounded: a hung Nomad must not keep a stale leader.
		cctx, cancel := context.WithTimeout(ctx, l.TTL/3)
		if l.IsLeader() {
			if err := locks.Renew(cctx); err != nil {
				l.failed(ctx, "leader lock renewal failed", err)
				l.set(false)
			} else {
				l.set(true)
			}
		} else {
			_, err := locks.Acquire(cctx)
			switch {
			case err == nil:
				l.set(true)
			case errors.Is(err, api.ErrLockConflict):
				l.set(false)
				l.checkHolder(ctx)
			default:
				l.failed(ctx, "leader lock acquire failed", err)
				l.set(false)
			}
		}
		cancel()
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

// checkHolder reads the lock variable after a conflict: a conflict also
// comes during the lock delay after a holder vanished, when nobody holds
// the lock; only a lock Nomad shows as held counts as another leader.
func (l *Leader) checkHolder(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, l.TTL/3)
	defer cancel()
	got, _, err := l.Client.Variables().Peek(l.Path, (&api.QueryOptions{Namespace: l.NS}).WithContext(cctx))
	if err != nil || got == nil || got.Lock == nil {
		return
	}
	l.mu.Lock()
	l.otherSeen = l.now()
	l.mu.Unlock()
}

// CheckLeaderSupport says whether leader election can work on a Nomad
// server of version v: variable locks came with Nomad 1.7.
func CheckLeaderSupport(v nomadver.Version) error {
	if v.AtLeast(nomadver.VariableLocks) {
		return nil
	}
	return fmt.Errorf("leader.enabled: leader election locks a Nomad variable, which needs Nomad %s or later; the server is %s "+
		"(it answers lock requests with 400 \"variable missing required Items object\"): run a single replica with leader.enabled: false, or upgrade Nomad",
		nomadver.VariableLocks, v)
}
