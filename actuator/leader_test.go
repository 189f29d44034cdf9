package actuator

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestLeaderLeaseRunsOnItsClock: a replica stops acting once its last
// renewal is a TTL old, and stops deferring to another replica a TTL after
// it last saw it hold the lock, on the Leader's own clock.
func TestLeaderLeaseRunsOnItsClock(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)}
	var changes []bool
	l := &Leader{Path: "fleetcast/actuator/leader", TTL: 15 * time.Second, Log: slog.New(slog.DiscardHandler), Now: clk.Now,
		OnChange: func(v bool) { changes = append(changes, v) }}
	l.set(true)
	steps := []struct {
		advance time.Duration
		renew   bool
		want    bool
	}{
		{14 * time.Second, false, true},
		{2 * time.Second, false, false}, // the renewal stalled past the TTL
		{0, true, true},                 // renewed
		{10 * time.Second, false, true},
		{5 * time.Second, false, false},
	}
	for i, s := range steps {
		clk.Add(s.advance)
		if s.renew {
			l.set(true)
		}
		if got := l.IsLeader(); got != s.want {
			t.Fatalf("step %d (+%s, renew %v): IsLeader %v, want %v", i, s.advance, s.renew, got, s.want)
		}
	}
	if len(changes) != 1 || !changes[0] {
		t.Fatalf("OnChange got %v; want one gain (a lapsed lease is not a change until Run sees it)", changes)
	}
	l.set(false)
	l.mu.Lock()
	l.otherSeen = clk.Now()
	l.mu.Unlock()
	if !l.OtherLeads() {
		t.Fatal("another replica seen now: OtherLeads false")
	}
	clk.Add(15 * time.Second)
	if l.OtherLeads() {
		t.Fatal("another replica last seen a TTL ago still counts as leading")
	}
}

// TestLeaderLogsALockErrorOncePerMinute: a server that refuses every lock
// attempt gets one ERROR line per change of message, and the same message
// again only after a minute; nothing while shutting down.
func TestLeaderLogsALockErrorOncePerMinute(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)}
	var logs bytes.Buffer
	l := &Leader{Path: "fleetcast/actuator/leader", TTL: 15 * time.Second, Log: slog.New(slog.NewTextHandler(&logs, nil)), Now: clk.Now}
	ctx := context.Background()
	refused := errors.New("variable missing required Items object")
	steps := []struct {
		advance time.Duration
		err     error
		lines   int // ERROR lines so far
	}{
		{0, refused, 1},
		{5 * time.Second, refused, 1},
		{50 * time.Second, refused, 1},
		{6 * time.Second, refused, 2}, // a minute after the last line
		{time.Second, errors.New("connection refused"), 3},
		{time.Second, refused, 4}, // the message changed back
	}
	for i, s := range steps {
		clk.Add(s.advance)
		l.failed(ctx, "leader lock acquire failed", s.err)
		if got := strings.Count(logs.String(), "level=ERROR"); got != s.lines {
			t.Fatalf("step %d: %d ERROR lines, want %d:\n%s", i, got, s.lines, logs.String())
		}
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	clk.Add(time.Hour)
	l.failed(done, "leader lock renewal failed", refused)
	if got := strings.Count(logs.String(), "level=ERROR"); got != 4 {
		t.Fatalf("logged while shutting down:\n%s", logs.String())
	}
}
