package stack

import (
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
