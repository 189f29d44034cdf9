package sim

import (
	"bytes"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const demandFleet = `
seed: %d
node_pools:
  - {name: default, cpu_mhz: 8000, memory_mb: 8192, count: 2}
jobs:
  - id: web
    groups:
      - name: web
        count: 2
        cpu: 1000
        memory_mb: 512
        demand:
          base_mhz: 1000
          daily: 0.5
          daily_peak: "15:00"
          weekend: 0.4
          noise: 0.05
          peaks: [{cron: "0 9 * * *", duration: 1h, factor: 2}]
  - id: replay
    groups:
      - name: g
        count: 1
        cpu: 1000
        memory_mb: 512
        demand: {trace: {file: testdata/trace.csv, series: requests, peak_mhz: 800}}
`

func demandFleetSeed(t *testing.T, seed int) *Fleet {
	t.Helper()
	return fleetFromYAML(t, strings.Replace(demandFleet, "%d", string(rune('0'+seed)), 1))
}

func TestDemandShape(t *testing.T) {
	f := demandFleetSeed(t, 1)
	at := func(tm time.Time) float64 {
		d, err := f.DemandAt("", "web", "web", tm)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	mon := testStart // Monday 00:00 UTC
	peak, trough := at(mon.Add(15*time.Hour)), at(mon.Add(3*time.Hour))
	if peak < 1.35*1000 || peak > 1.65*1000 || trough < 0.35*1000 || trough > 0.65*1000 {
		t.Fatalf("daily shape: 15:00 %.0f, 03:00 %.0f; want about 1500 and 500", peak, trough)
	}
	sat := at(mon.Add(5*24*time.Hour + 15*time.Hour))
	if r := sat / peak; r < 0.5 || r > 0.7 {
		t.Fatalf("weekend dip: Saturday/Monday at 15:00 = %.2f, want about 0.6", r)
	}
	// The 09:00 peak doubles demand in its middle.
	noPeak := 1000 * (1 + 0.5*math.Cos(2*math.Pi*(9.5-15)/24))
	if r := at(mon.Add(9*time.Hour+30*time.Minute)) / noPeak; r < 1.8 || r > 2.2 {
		t.Fatalf("scheduled peak factor %.2f, want about 2", r)
	}
	// Same seed, same demand; another seed, other noise.
	g := demandFleetSeed(t, 1)
	h := demandFleetSeed(t, 2)
	tm := mon.Add(11*time.Hour + 7*time.Minute)
	dg, _ := g.DemandAt("", "web", "web", tm)
	dh, _ := h.DemandAt("", "web", "web", tm)
	if dg != at(tm) || dh == dg {
		t.Fatalf("determinism: seed 1 %.3f and %.3f, seed 2 %.3f", at(tm), dg, dh)
	}
}

func TestTraceReplay(t *testing.T) {
	f := demandFleetSeed(t, 1)
	tests := []struct {
		offset time.Duration
		want   float64
	}{
		{0, 200},                            // 10 scaled so that the peak 40 becomes 800
		{90 * time.Minute, 600},             // between 20 and 40
		{2 * time.Hour, 800},                // the peak
		{3*time.Hour + 30*time.Minute, 300}, // between the last sample and the loop's restart
		{4*time.Hour + time.Hour, 400},      // the loop: one hour into the second round
	}
	for _, tc := range tests {
		got, err := f.DemandAt("", "replay", "g", testStart.Add(tc.offset))
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("at +%s: %.2f, want %.2f", tc.offset, got, tc.want)
		}
	}
	if err := f.SetDemand("", "replay", "g", func(time.Time) float64 { return 5000 }); err != nil {
		t.Fatal(err)
	}
	f.Advance(testStart.Add(time.Minute))
	if tr := f.Truth(); tr.JobOverloadSeconds["replay"] != 60 {
		t.Fatalf("overload with replaced demand: %v", tr.JobOverloadSeconds)
	}
}

// TestHistoryIsTheSameProcess: writing history and then continuing gives the
// same fleet as simulating straight through.
func TestHistoryIsTheSameProcess(t *testing.T) {
	a := fleetFromYAML(t, mustRead(t, "testdata/fleet.yml"))
	b := fleetFromYAML(t, mustRead(t, "testdata/fleet.yml"))
	var buf bytes.Buffer
	mid := testStart.Add(6 * time.Hour)
	if err := a.WriteHistory(&buf, testStart, mid, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	if a.Now() != mid {
		t.Fatalf("fleet after history at %s, want %s", a.Now(), mid)
	}
	end := mid.Add(3 * time.Hour)
	a.Advance(end)
	b.Advance(end)
	ta, tb := a.Truth(), b.Truth()
	if ta.DemandMHzHours != tb.DemandMHzHours || ta.NodeHours != tb.NodeHours || ta.DemandMHz != tb.DemandMHz {
		t.Fatalf("history then run %+v\nstraight run %+v", ta, tb)
	}
	text := buf.String()
	for _, want := range []string{
		"# TYPE nomad_client_allocated_cpu gauge\n",
		"# TYPE fleetcast_sim_job_overload_seconds counter\n",
		`nomad_nomad_job_summary_running{job="web",task_group="web",namespace="default"} 3 ` + itoa(testStart.Unix()) + "\n",
		"# EOF\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("history lacks %q", want)
		}
	}
	if err := a.WriteHistory(&buf, testStart, end, time.Minute); err == nil {
		t.Fatal("history before the fleet's time accepted")
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHistoryOptions(t *testing.T) {
	f := testFleet(t)
	var buf bytes.Buffer
	err := f.WriteHistoryWith(&buf, testStart, testStart.Add(10*time.Minute), time.Minute, HistoryOptions{
		Target:  ScrapeTarget{Job: "nomad", Instance: "127.0.0.1:4646"},
		Metrics: regexp.MustCompile(`^nomad_nomad_job_summary_running$`),
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	// HELP, TYPE, 3 groups × 11 samples, EOF.
	if len(lines) != 2+3*11+1 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	want := `nomad_nomad_job_summary_running{exported_job="web",task_group="web",namespace="default",job="nomad",instance="127.0.0.1:4646"} 3 `
	if !strings.HasPrefix(lines[2], want) {
		t.Fatalf("first sample %q, want prefix %q", lines[2], want)
	}
}
