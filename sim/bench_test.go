package sim

import (
	"io"
	"testing"
	"time"
)

// BenchmarkAdvanceDay measures a simulated day of the demo fleet.
func BenchmarkAdvanceDay(b *testing.B) {
	cfg, err := LoadConfig("../examples/fleet.yml")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		f, err := New(cfg, testStart)
		if err != nil {
			b.Fatal(err)
		}
		f.Advance(testStart.Add(24 * time.Hour))
	}
}

// BenchmarkHistoryDay measures writing a day of history at one sample a minute.
func BenchmarkHistoryDay(b *testing.B) {
	cfg, err := LoadConfig("../examples/fleet.yml")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		f, err := New(cfg, testStart)
		if err != nil {
			b.Fatal(err)
		}
		if err := f.WriteHistory(io.Discard, testStart, testStart.Add(24*time.Hour), time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}
