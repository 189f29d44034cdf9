package actuator

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
)

func (a *Actuator) lock(obj string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.busy[obj] {
		return false
	}
	a.busy[obj] = true
	return true
}

func (a *Actuator) unlock(obj string) {
	a.mu.Lock()
	delete(a.busy, obj)
	a.mu.Unlock()
}

// budgetKey is the state variable holding the times of the last hour's
// actions: the global max_actions_per_hour survives restarts and is shared
// by replicas, as the rest of the durable state is.
const budgetKey = "budget/actions"

// reserve takes one action from the hourly budget, recorded in the state
// store before the action runs; release gives it back when the action did
// not happen. The token is the recorded time, to release exactly it.
func (a *Actuator) reserve(ctx context.Context) (okay bool, why string, token int64, err error) {
	limit := a.cur().cfg.Global.MaxActionsPerHour
	if limit == 0 {
		limit = defaultMaxActionsPerHour
	}
	now := a.o.Now()
	a.budgetMu.Lock()
	defer a.budgetMu.Unlock()
	times, err := a.loadBudget(ctx, now)
	if err != nil {
		return false, "", 0, err
	}
	if len(times) >= limit {
		return false, fmt.Sprintf("global rate limit: %d actions in the last hour (max_actions_per_hour %d)", len(times), limit), 0, nil
	}
	token = now.UnixNano()
	for slices.Contains(times, token) {
		token++
	}
	if err := a.saveBudget(ctx, append(times, token)); err != nil {
		return false, "", 0, err
	}
	return true, "", token, nil
}

func (a *Actuator) loadBudget(ctx context.Context, now time.Time) ([]int64, error) {
	items, err := a.cur().state.Get(ctx, budgetKey)
	if err != nil {
		return nil, fmt.Errorf("read the action budget (max_actions_per_hour): %w", err)
	}
	var times []int64
	for _, f := range strings.Split(items["times"], ",") {
		if ns, err := strconv.ParseInt(f, 10, 64); err == nil && now.Sub(time.Unix(0, ns)) < time.Hour {
			times = append(times, ns)
		}
	}
	return times, nil
}

func (a *Actuator) saveBudget(ctx context.Context, times []int64) error {
	f := make([]string, len(times))
	for i, t := range times {
		f[i] = strconv.FormatInt(t, 10)
	}
	if err := a.cur().state.Put(ctx, budgetKey, map[string]string{"times": strings.Join(f, ",")}); err != nil {
		return fmt.Errorf("record the action in the budget (max_actions_per_hour): %w", err)
	}
	return nil
}

// maxSeen bounds the memory of handled alerts; past it a tenth is
// forgotten (scale_group still finds its own actions in Nomad's scaling
// events, so those never repeat).
const maxSeen = 100000

// remember marks an alert key as decided, forgetting expired keys at most
// once a minute so a flood of alerts costs O(1) each.
func (a *Actuator) remember(key string) {
	now := a.o.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen[key] = now
	if now.Sub(a.pruned) < time.Minute && len(a.seen) <= maxSeen {
		return
	}
	a.pruned = now
	ttl := durOr(a.cur().cfg.Global.DedupeFor, defaultDedupeFor)
	for k, t := range a.seen {
		if now.Sub(t) > ttl {
			delete(a.seen, k)
		}
	}
	if len(a.seen) > maxSeen {
		// A flood past the cap: forget a tenth (map order is random), so
		// the cost stays amortised O(1).
		for k := range a.seen {
			if len(a.seen) <= maxSeen*9/10 {
				break
			}
			delete(a.seen, k)
		}
	}
}

func (a *Actuator) release(ctx context.Context, token int64) {
	a.budgetMu.Lock()
	defer a.budgetMu.Unlock()
	// The action did not happen: give its slot back, even if the request
	// that wanted it was cancelled meanwhile.
	ctx = context.WithoutCancel(ctx)
	times, err := a.loadBudget(ctx, a.o.Now())
	if err == nil {
		if i := slices.Index(times, token); i >= 0 {
			err = a.saveBudget(ctx, slices.Delete(times, i, i+1))
		}
	}
	if err != nil {
		a.o.Log.Warn("an action that did not happen still counts against max_actions_per_hour for an hour", "err", err)
	}
}

// act applies the global limits, then runs do unless in dry run.
func (a *Actuator) act(ctx context.Context, d *decision, reason string, do func() Outcome) Outcome {
	okay, why, token, err := a.reserve(ctx)
	if err != nil {
		return a.nomadFailed(d, err)
	}
	if !okay {
		return Outcome{Result: ResultRateLimited, Code: 429, Detail: why}
	}
	if a.cur().cfg.Global.DryRun {
		a.release(ctx, token)
		return ok(ResultDryRun, "dry run, would: "+reason)
	}
	// The intent goes to the audit log before Nomad is touched, so an
	// action whose outcome never gets written (the process killed while
	// Nomad was slow) still has a line saying what was attempted.
	a.o.Audit.LogAttrs(context.Background(), slog.LevelInfo, "intent", slog.String("key", clip(d.key, maxDetailBytes)), slog.String("action", d.action),
		slog.String("object", clip(d.object, maxDetailBytes)), slog.String("reason", clip(reason, maxDetailBytes)), slog.Any("plan", d.plan))
	id := a.begin(d)
	out := do()
	a.end(id)
	if out.Result != ResultActed {
		a.release(ctx, token)
	}
	return out
}
