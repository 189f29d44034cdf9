package sim

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// fleetFromYAML builds a fleet from a config text.
func fleetFromYAML(t *testing.T, text string) *Fleet {
	t.Helper()
	cfg, err := ParseConfig([]byte(text), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(cfg, testStart)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// placement renders where a job's live allocations are: "node:count" sorted,
// then the queued count.
func placement(f *Fleet, jobID string) string {
	per := map[string]int{}
	for _, a := range f.Allocs() {
		if a.JobID == jobID {
			per[a.NodeName]++
		}
	}
	var parts []string
	for _, n := range slices.Sorted(maps.Keys(per)) {
		parts = append(parts, fmt.Sprintf("%s:%d", n, per[n]))
	}
	queued := 0
	for _, j := range f.Jobs() {
		if j.ID == jobID {
			for _, g := range j.Groups {
				queued += g.Queued
			}
		}
	}
	return strings.Join(parts, ",") + fmt.Sprintf(" queued=%d", queued)
}

const twoPools = `
node_pools:
  - {name: default, datacenter: dc1, cpu_mhz: 4000, memory_mb: 4096, count: 2, ineligible: [%s]}
  - {name: gpu, datacenter: dc2, cpu_mhz: 8000, memory_mb: 8192, count: 1}
jobs:
%s
`

func TestPlacement(t *testing.T) {
	tests := []struct {
		name       string
		ineligible string
		job        string
		want       string
	}{
		{"bin-packs onto one node", "", `
  - id: j
    groups: [{name: g, count: 3, cpu: 1000, memory_mb: 512}]`, "default-1:3 queued=0"},
		{"spills when a node is full", "", `
  - id: j
    groups: [{name: g, count: 5, cpu: 1000, memory_mb: 512}]`, "default-1:4,default-2:1 queued=0"},
		{"memory limits too", "", `
  - id: j
    groups: [{name: g, count: 3, cpu: 100, memory_mb: 2048}]`, "default-1:2,default-2:1 queued=0"},
		{"distinct_hosts on the group", "", `
  - id: j
    groups: [{name: g, count: 3, cpu: 100, memory_mb: 100, distinct_hosts: true}]`, "default-1:1,default-2:1 queued=1"},
		{"distinct_hosts on the job", "", `
  - id: j
    distinct_hosts: true
    groups: [{name: a, count: 1, cpu: 100, memory_mb: 100}, {name: b, count: 1, cpu: 100, memory_mb: 100}]`, "default-1:1,default-2:1 queued=0"},
		{"ineligible node is skipped", "default-1", `
  - id: j
    groups: [{name: g, count: 2, cpu: 1000, memory_mb: 512}]`, "default-2:2 queued=0"},
		{"node pool", "", `
  - id: j
    node_pool: gpu
    groups: [{name: g, count: 2, cpu: 1000, memory_mb: 512}]`, "gpu-1:2 queued=0"},
		{"datacenter", "", `
  - id: j
    datacenters: [dc2]
    groups: [{name: g, count: 1, cpu: 1000, memory_mb: 512}]`, " queued=1"},
		{"too big for any node", "", `
  - id: j
    groups: [{name: g, count: 1, cpu: 5000, memory_mb: 512}]`, " queued=1"},
		{"system job on every eligible node", "default-2", `
  - id: j
    type: system
    groups: [{name: g, cpu: 100, memory_mb: 100}]`, "default-1:1 queued=0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := fleetFromYAML(t, fmt.Sprintf(twoPools, tc.ineligible, tc.job))
			if got := placement(f, "j"); got != tc.want {
				t.Fatalf("placement %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRescheduling(t *testing.T) {
	const cfg = `
alloc_start_delay: 30s
boot_delay: 1m
node_pools:
  - {name: default, cpu_mhz: 4000, memory_mb: 4096, count: 3, min: 1, max: 5}
jobs:
  - id: j
    groups: [{name: g, count: 2, cpu: 1500, memory_mb: 512, demand: {base_mhz: 2000}}]
`
	t.Run("a stopped allocation moves to another node", func(t *testing.T) {
		f := fleetFromYAML(t, cfg)
		if got := placement(f, "j"); got != "default-1:2 queued=0" {
			t.Fatalf("start: %s", got)
		}
		a := f.Allocs()[0]
		if _, err := f.StopAlloc(a.ID); err != nil {
			t.Fatal(err)
		}
		if got := placement(f, "j"); got != "default-1:1,default-2:1 queued=0" {
			t.Fatalf("after stop: %s", got)
		}
		// The replacement serves nothing until it has started.
		j := f.Jobs()[0].Groups[0]
		if j.Running != 1 || j.Pending != 1 {
			t.Fatalf("running %d pending %d", j.Running, j.Pending)
		}
		f.Advance(testStart.Add(10 * time.Second))
		if tr := f.Truth(); tr.JobOverloadSeconds["j"] != 10 {
			t.Fatalf("overload while the replacement starts: %v", tr.JobOverloadSeconds)
		}
		f.Advance(testStart.Add(time.Minute))
		if tr := f.Truth(); tr.JobOverloadSeconds["j"] != 30 {
			t.Fatalf("overload after it started: %v", tr.JobOverloadSeconds)
		}
	})
	t.Run("a drain moves everything off", func(t *testing.T) {
		f := fleetFromYAML(t, cfg)
		var id string
		for _, n := range f.Nodes() {
			if n.Name == "default-1" {
				id = n.ID
			}
		}
		if err := f.DrainNode(id, nil, false); err != nil {
			t.Fatal(err)
		}
		if err := f.DrainNode(id, &api.DrainSpec{Deadline: time.Hour}, false); err != nil {
			t.Fatal(err)
		}
		if got := placement(f, "j"); got != "default-2:2 queued=0" {
			t.Fatalf("after drain: %s", got)
		}
		if err := f.SetEligibility(id, true); err != nil {
			t.Fatalf("eligible after the drain completed: %v", err)
		}
	})
	t.Run("shrinking a pool removes the emptiest nodes and reschedules", func(t *testing.T) {
		f := fleetFromYAML(t, cfg)
		if _, err := f.SetPoolSize("default", 1); err != nil {
			t.Fatal(err)
		}
		if got := placement(f, "j"); got != "default-1:2 queued=0" {
			t.Fatalf("after shrink: %s", got)
		}
		if _, err := f.SetPoolSize("default", 0); err == nil {
			t.Fatal("size below min accepted")
		}
		f2 := fleetFromYAML(t, cfg)
		if err := f2.ScaleGroup("", "j", "g", 6, "up"); err != nil {
			t.Fatal(err)
		}
		if got := placement(f2, "j"); got != "default-1:2,default-2:2,default-3:2 queued=0" {
			t.Fatalf("scaled: %s", got)
		}
		if _, err := f2.SetPoolSize("default", 2); err != nil {
			t.Fatal(err)
		}
		if got := placement(f2, "j"); !strings.HasSuffix(got, "queued=2") {
			t.Fatalf("after shrink below need: %s", got)
		}
		st, err := f2.SetPoolSize("default", 3)
		if err != nil || st.Booting != 1 {
			t.Fatalf("grow: %+v %v", st, err)
		}
		f2.Advance(testStart.Add(2 * time.Minute))
		if got := placement(f2, "j"); got != "default-1:2,default-2:2,default-4:2 queued=0" {
			t.Fatalf("after the new node booted: %s", got)
		}
	})
}

func TestPeriodicLaunchesInTimeZone(t *testing.T) {
	f := fleetFromYAML(t, `
node_pools:
  - {name: default, cpu_mhz: 8000, memory_mb: 8192, count: 1}
jobs:
  - id: nightly
    type: batch
    periodic: {cron: "30 2 * * *", time_zone: Europe/Berlin, prohibit_overlap: true, duration: 20m}
    groups: [{name: g, count: 2, cpu: 1000, memory_mb: 512}]
`)
	children := func() []string {
		var out []string
		for _, j := range f.Jobs() {
			if j.ParentID == "nightly" {
				out = append(out, j.ID+":"+j.Status)
			}
		}
		sort.Strings(out)
		return out
	}
	// 02:30 in Berlin in November is 01:30 UTC.
	f.Advance(testStart.Add(time.Hour + 29*time.Minute))
	if c := children(); len(c) != 0 {
		t.Fatalf("children before the cron fired: %v", c)
	}
	f.Advance(testStart.Add(time.Hour + 31*time.Minute))
	want := fmt.Sprintf("nightly/periodic-%d:running", testStart.Add(90*time.Minute).Unix())
	if c := children(); len(c) != 1 || c[0] != want {
		t.Fatalf("children after 01:31 UTC: %v, want %s", c, want)
	}
	if got := placement(f, want[:strings.Index(want, ":")]); got != "default-1:2 queued=0" {
		t.Fatalf("child placement: %s", got)
	}
	f.Advance(testStart.Add(time.Hour + 51*time.Minute))
	if c := children(); len(c) != 1 || !strings.HasSuffix(c[0], ":dead") {
		t.Fatalf("child after its 20 minutes: %v", c)
	}
	f.Advance(testStart.Add(4 * time.Hour))
	if c := children(); len(c) != 0 {
		t.Fatalf("dead child not collected: %v", c)
	}
	f.Advance(testStart.Add(25*time.Hour + 31*time.Minute))
	if c := children(); len(c) != 1 {
		t.Fatalf("second night: %v", c)
	}
}
