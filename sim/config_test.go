package sim

import (
	"strings"
	"testing"
)

func TestConfigErrorsNameTheField(t *testing.T) {
	const pools = "node_pools:\n  - {name: default, cpu_mhz: 4000, memory_mb: 4096, count: 2}\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"no pools", "jobs: []\n", "node_pools: at least one pool is required"},
		{"bad cpu", "node_pools:\n  - {name: p, cpu_mhz: 0, memory_mb: 1, count: 1}\n", "node_pools[0].cpu_mhz: must be positive, got 0"},
		{"count above max", "node_pools:\n  - {name: p, cpu_mhz: 1, memory_mb: 1, count: 5, max: 3}\n", "node_pools[0]: want 0 <= min (0) <= count (5) <= max (3)"},
		{"unknown field", pools + "colour: red\n", "colour: line 3: unknown field; valid are seed, region"},
		{"bad type", pools + "jobs:\n  - {id: j, type: daemon, groups: [{name: g, cpu: 1, memory_mb: 1}]}\n", "jobs[0] (j).type: \"daemon\"; valid types are service, batch, system"},
		{"unknown pool", pools + "jobs:\n  - {id: j, node_pool: gpu, groups: [{name: g, cpu: 1, memory_mb: 1}]}\n", "jobs[0] (j).node_pool: no pool \"gpu\" in node_pools"},
		{"bad cron", pools + "jobs:\n  - {id: j, type: batch, periodic: {cron: \"61 * * * *\"}, groups: [{name: g, cpu: 1, memory_mb: 1}]}\n", "jobs[0] (j).periodic.cron: \"61 * * * *\""},
		{"periodic service", pools + "jobs:\n  - {id: j, periodic: {cron: \"@hourly\"}, groups: [{name: g, cpu: 1, memory_mb: 1}]}\n", "jobs[0] (j).periodic: only batch jobs can be periodic"},
		{"bad zone", pools + "jobs:\n  - {id: j, type: batch, periodic: {cron: \"@hourly\", time_zone: Mars/Olympus}, groups: [{name: g, cpu: 1, memory_mb: 1}]}\n", "jobs[0] (j).periodic.time_zone: unknown time zone \"Mars/Olympus\""},
		{"count outside scaling", pools + "jobs:\n  - {id: j, groups: [{name: g, count: 9, cpu: 1, memory_mb: 1, scaling: {min: 1, max: 4}}]}\n", "jobs[0] (j).groups[0].count: 9 is outside scaling min 1 and max 4"},
		{"no cpu ask", pools + "jobs:\n  - {id: j, groups: [{name: g, memory_mb: 1}]}\n", "jobs[0] (j).groups[0].cpu: the per-allocation CPU ask (MHz) must be positive, got 0"},
		{"daily too big", pools + "jobs:\n  - {id: j, groups: [{name: g, cpu: 1, memory_mb: 1, demand: {daily: 2}}]}\n", "jobs[0] (j).groups[0].demand.daily: relative amplitude 2; want 0 to 1"},
		{"peak without time", pools + "jobs:\n  - {id: j, groups: [{name: g, cpu: 1, memory_mb: 1, demand: {peaks: [{duration: 1h, factor: 2}]}}]}\n", "jobs[0] (j).groups[0].demand.peaks[0]: set exactly one of cron and at"},
		{"bad duration", "step: soon\n" + pools, `step: line 1: "soon" is not a valid duration; want a number and a unit`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.yaml), "fleet.yml")
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.HasPrefix(err.Error(), "fleet.yml") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to name fleet.yml and contain %q", err, tc.want)
			}
		})
	}
	if _, err := LoadConfig("../examples/fleet.yml"); err != nil {
		t.Fatalf("the demo fleet: %v", err)
	}
	if _, err := New(&Config{NodePools: []PoolConfig{{Name: "p", CPUMHz: 1000, MemoryMB: 1000, Count: 1}}}, testStart); err != nil {
		t.Fatalf("a config built in Go: %v", err)
	}
}
