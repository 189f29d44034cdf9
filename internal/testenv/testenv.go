// Package testenv starts the real Prometheus and Alertmanager that end-to-end
// tests talk to, and stops them when the test ends. A missing binary fails the
// test with a message that says how to install it: these tests are never
// skipped silently.
package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/fleetcast/fleetcast/internal/stack"
)

// Prometheus starts Prometheus for the test; see stack.PrometheusOptions.
// Dir defaults to a fresh temporary directory.
func Prometheus(t testing.TB, o stack.PrometheusOptions) *stack.Process {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	p, err := stack.StartPrometheus(context.Background(), o)
	if err != nil {
		t.Fatalf("start real Prometheus: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stop prometheus: %v", err)
		}
		if t.Failed() {
			t.Logf("prometheus log tail:\n%s", p.LogTail(30))
		}
	})
	return p
}

// Alertmanager starts Alertmanager for the test with the given config text.
func Alertmanager(t testing.TB, config string) *stack.Process {
	t.Helper()
	p, err := stack.StartAlertmanager(context.Background(), stack.AlertmanagerOptions{Dir: t.TempDir(), Config: config})
	if err != nil {
		t.Fatalf("start real Alertmanager: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stop alertmanager: %v", err)
		}
		if t.Failed() {
			t.Logf("alertmanager log tail:\n%s", p.LogTail(30))
		}
	})
	return p
}

// RequireBinary fails the test when one of the tools is missing.
func RequireBinary(t testing.TB, name string) string {
	t.Helper()
	p, err := stack.Binary(name)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return p
}

// Eventually calls f until it returns nil, and fails the test with the last
// error when timeout passes first. It polls every 10 ms at first, backing
// off to every 200 ms, so a condition that holds at once costs little and a
// slow one does not spin. It is the one polling helper of the tests.
func Eventually(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	wait := 10 * time.Millisecond
	for {
		err := f()
		if err == nil {
			return
		}
		if !time.Now().Before(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
			return
		}
		time.Sleep(min(wait, time.Until(deadline)))
		wait = min(2*wait, 200*time.Millisecond)
	}
}
