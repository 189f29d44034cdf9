package stack

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSplitOpenMetrics(t *testing.T) {
	in := `# HELP a_total A counter.
# TYPE a_total counter
a_total{x="1 }"} 1 0
a_total{x="1 }"} 2 7199
a_total{x="1 }"} 3 7200.5
# TYPE b gauge
b 5 14400
b 6 100
# EOF
`
	got := SplitOpenMetrics(in, 7200)
	want := []string{
		"# HELP a_total A counter.\n# TYPE a_total counter\na_total{x=\"1 }\"} 1 0\na_total{x=\"1 }\"} 2 7199\n# TYPE b gauge\nb 6 100\n# EOF\n",
		"# HELP a_total A counter.\n# TYPE a_total counter\na_total{x=\"1 }\"} 3 7200.5\n# EOF\n",
		"# TYPE b gauge\nb 5 14400\n# EOF\n",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d parts, want %d:\n%s", len(got), len(want), strings.Join(got, "----\n"))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("part %d:\n%s\nwant:\n%s", i, got[i], want[i])
		}
	}
}

func TestSampleTimestamp(t *testing.T) {
	cases := []struct {
		line string
		ts   float64
		ok   bool
	}{
		{`up 1 1700000000`, 1700000000, true},
		{`up{a="b",c="d e"} 1 1700000000.5`, 1700000000.5, true},
		{`up{a="q\"}"} 1 12`, 12, true},
		{`up 1`, 0, false},
		{`up{a="b"} 1`, 0, false},
	}
	for _, c := range cases {
		ts, ok := sampleTimestamp(c.line)
		if ts != c.ts || ok != c.ok {
			t.Errorf("%s: got %v,%v want %v,%v", c.line, ts, ok, c.ts, c.ok)
		}
	}
}

// BenchmarkBackfillFile times Backfill on an OpenMetrics file named by
// FLEETCAST_BACKFILL_FILE, for example 14 days of the demo fleet:
//
//	fleetcast sim --config.file examples/fleet.yml --history 14d --history.step 5m --history.out /tmp/h.om
//	FLEETCAST_BACKFILL_FILE=/tmp/h.om go test -run '^$' -bench BackfillFile -benchtime 1x ./internal/stack
func BenchmarkBackfillFile(b *testing.B) {
	path := os.Getenv("FLEETCAST_BACKFILL_FILE")
	if path == "" {
		b.Skip("set FLEETCAST_BACKFILL_FILE to an OpenMetrics file")
	}
	text, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(text)))
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		if err := Backfill(context.Background(), dir, filepath.Join(dir, "data"), string(text)); err != nil {
			b.Fatal(err)
		}
	}
}
