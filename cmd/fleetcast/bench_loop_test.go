package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTrace writes four days of a daily step (5-minute samples) as a long CSV.
func writeTrace(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("series,timestamp,value\n")
	start := int64(1_700_000_000 / 86400 * 86400)
	for ts := start; ts < start+4*86400; ts += 300 {
		v := 10
		if h := (ts - start) % 86400 / 3600; h >= 8 && h < 18 {
			v = 40
		}
		fmt.Fprintf(&b, "shop,%d,%d\n", ts, v)
	}
	p := filepath.Join(t.TempDir(), "trace.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBenchLoop(t *testing.T) {
	trace := writeTrace(t)
	cases := []struct {
		args     []string
		code     int
		inStdout []string
		inStderr string
	}{
		{[]string{"bench", "loop", "--trace", trace, "--json"}, 0,
			[]string{`"policy":"predictive"`, `"policy":"reactive"`, `"policy":"oracle"`, `"overload_minutes"`, `"unservable_minutes"`,
				`"unplaced_minutes"`, `"node_wait_minutes"`, `"capacity_hours"`, `"actions"`, `"migrations"`, `"avoidable_overload_removed"`, `"capacity_hours_to_reactive"`}, "ran in"},
		{[]string{"bench", "loop", "--trace", trace}, 0, []string{"dataset trace", "avoidable overload min", "removed", "capacity/reactive", "oracle"}, ""},
		{[]string{"bench", "loop", "--dataset", "a=" + trace, "--dataset", "b=" + trace, "--per-series"}, 0,
			[]string{"dataset a: 1 series", "dataset b: 1 series", "shop"}, ""},
		{[]string{"bench", "loop", "--dataset", "a=" + trace, "--json", "--per-series"}, 0, []string{`"dataset":"a"`, `"series_name":"shop"`}, ""},
		{[]string{"bench", "loop", "--trace", trace, "--policy", "reactive", "--json"}, 0, []string{`"policy":"reactive"`}, ""},
		{[]string{"bench", "loop"}, 2, nil, "--trace or --dataset is required"},
		{[]string{"bench", "loop", "--dataset", "nofiles"}, 2, nil, "NAME=FILE"},
		{[]string{"bench", "loop", "--dataset", "a=" + trace, "--dataset", "b=" + trace, "--vary", "headroom=0,0.25"}, 0,
			[]string{"--headroom=0.25", "chosen on a:", "-> on b:", "chosen on b:"}, "done in"},
		{[]string{"bench", "loop", "--trace", trace, "--vary", "nope=1"}, 2, nil, "--vary nope: no such flag"},
		{[]string{"bench", "loop", "--trace", trace, "--vary", "quantile=2"}, 2, nil, "quantile 2 must be in (0,1)"},
		{[]string{"bench", "loop", "--trace", trace, "--policy", "psychic"}, 2, nil, `--policy="psychic"`},
		{[]string{"bench", "loop", "--trace", filepath.Join(t.TempDir(), "none.csv")}, 1, nil, "none.csv"},
		{[]string{"bench", "loop", "--help"}, 0, nil, "Example"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if code != c.code || !strings.Contains(errb.String(), c.inStderr) {
			t.Errorf("fleetcast %v: exit %d, stderr %q; want exit %d with %q", c.args, code, errb.String(), c.code, c.inStderr)
			continue
		}
		for _, s := range c.inStdout {
			if !strings.Contains(out.String(), s) {
				t.Errorf("fleetcast %v: stdout lacks %q:\n%s", c.args, s, out.String())
			}
		}
	}
	// Each JSON line is one complete object.
	var out, errb bytes.Buffer
	if code := run([]string{"bench", "loop", "--trace", trace, "--json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q is not one JSON object: %v", line, err)
		}
	}
}
