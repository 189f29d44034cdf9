package testenv

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB that records Fatalf instead of stopping.
type recorder struct {
	testing.TB
	fatal string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }

func TestEventually(t *testing.T) {
	cases := []struct {
		name      string
		okAfter   int // calls that fail before one succeeds; -1: never
		timeout   time.Duration
		wantFatal string
		minCalls  int
	}{
		{"at once", 0, time.Second, "", 1},
		{"after a few tries", 3, 5 * time.Second, "", 4},
		{"never", -1, 300 * time.Millisecond, "the thing: not within 300ms: try", 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &recorder{TB: t}
			calls := 0
			start := time.Now()
			Eventually(r, c.timeout, "the thing", func() error {
				calls++
				if c.okAfter >= 0 && calls > c.okAfter {
					return nil
				}
				return errors.New("try " + fmt.Sprint(calls))
			})
			if el := time.Since(start); el > c.timeout+time.Second {
				t.Errorf("took %s, over the %s timeout", el, c.timeout)
			}
			if c.wantFatal == "" && r.fatal != "" {
				t.Errorf("failed: %s", r.fatal)
			}
			if c.wantFatal != "" && !strings.HasPrefix(r.fatal, c.wantFatal) {
				t.Errorf("fatal %q, want it to start with %q", r.fatal, c.wantFatal)
			}
			if c.wantFatal != "" && !strings.HasSuffix(r.fatal, fmt.Sprint(calls)) {
				t.Errorf("fatal %q does not carry the last error (call %d)", r.fatal, calls)
			}
			if calls < c.minCalls || (c.okAfter >= 0 && calls != c.okAfter+1) {
				t.Errorf("%d calls", calls)
			}
		})
	}
}
