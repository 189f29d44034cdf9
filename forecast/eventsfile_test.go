package forecast

import (
	"strings"
	"testing"
)

func TestReadEvents(t *testing.T) {
	in := "# planned peaks\nname,start,end,effect,series\n" +
		"batch,1700000000,1700003600,,\n" +
		"sale,2026-01-02T10:00:00Z,2026-01-02T12:00:00Z,25,node-*\n"
	rules, err := ReadEvents(strings.NewReader(in), "ev.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 || rules[0].Known || rules[0].Name != "batch" || !rules[1].Known || rules[1].Effect != 25 || rules[1].Start != 1767348000 {
		t.Fatalf("got %+v", rules)
	}
	if got := EventsFor(rules, "node-1"); len(got) != 2 {
		t.Errorf("node-1: %d events, want 2", len(got))
	}
	if got := EventsFor(rules, "job-a"); len(got) != 1 || got[0].Name != "batch" {
		t.Errorf("job-a: %+v, want only batch", got)
	}
	bad := []struct{ in, want string }{
		{"", "ev.csv: empty events file"},
		{"name,start\n", "ev.csv:1: header"},
		{"name,start,end,colour\n", `ev.csv:1: unknown column "colour"`},
		{"name,start,end\nx,10,5\n", "ev.csv:2: event \"x\" ends"},
		{"name,start,end\nx,abc,5\n", "ev.csv:2: start:"},
		{"name,start,end\n,1,5\n", "ev.csv:2: empty event name"},
		{"name,start,end,effect\n\nx,1,5,lots\n", "ev.csv:3: effect \"lots\""},
		{"name,start,end,series\nx,1,5,[\n", "ev.csv:2: series pattern"},
		{"name,start,end\nx,1,\"5\n", "ev.csv:2:"},
	}
	for _, b := range bad {
		_, err := ReadEvents(strings.NewReader(b.in), "ev.csv")
		if err == nil || !strings.HasPrefix(err.Error(), b.want) {
			t.Errorf("%q: err %v, want it to start with %q", b.in, err, b.want)
		}
	}
}

// FuzzReadEvents: the events parser never panics, and what it accepts is
// usable by Fit.
func FuzzReadEvents(f *testing.F) {
	f.Add("name,start,end,effect,series\nbatch,1700000000,1700003600,,\nsale,2026-01-02T10:00:00Z,2026-01-02T12:00:00Z,25,node-*\n")
	f.Add("name,start,end\n# c\nx,1,2\n")
	f.Add("end,name,start\n5,x,1\n")
	f.Fuzz(func(t *testing.T, in string) {
		rules, err := ReadEvents(strings.NewReader(in), "fuzz.csv")
		if err != nil {
			return
		}
		evs := EventsFor(rules, "s")
		for _, e := range evs {
			if e.End <= e.Start || e.Name == "" {
				t.Fatalf("accepted a bad event %+v", e)
			}
		}
		s := Series{Times: []int64{0, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600, 660}, Values: []float64{1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2}}
		if _, err := Fit(s, Options{Horizon: 3, Events: evs}); err != nil {
			t.Fatalf("Fit with accepted events: %v", err)
		}
	})
}
