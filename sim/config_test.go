package sim

import (
	"testing"
	"time"

	"github.com/fleetcast/fleetcast/internal/testenv"
)

// TestInvalidConfigs loads every invalid fleet file under testdata/
// (conf.*.yml, as Alertmanager's config tests have them) and checks that
// the error names the file, the field and what would be valid.
func TestInvalidConfigs(t *testing.T) {
	testenv.InvalidConfigs(t, func(p string) error { _, err := LoadConfig(p); return err }, ": ", [][3]string{ // file, field, what is valid
		{"conf.bad-cron.yml", "jobs[0] (j).periodic.cron", "want a cron spec as Nomad reads it"},
		{"conf.bad-duration.yml", "step", "want a number and a unit (ms, s, m, h, d, w, y)"},
		{"conf.bad-time.yml", "jobs[0].groups[0].demand.peaks[0].at", "want RFC 3339"},
		{"conf.capacity.yml", "jobs[0] (j).groups[0].capacity_mhz", "must be positive"},
		{"conf.count-above-max.yml", "node_pools[0]", "want 0 <= min (0) <= count (5) <= max (3)"},
		{"conf.count-outside-scaling.yml", "jobs[0] (j).groups[0].count", "is outside scaling min 1 and max 4"},
		{"conf.daily-peak.yml", "jobs[0] (j).groups[0].demand.daily_peak", "want a time of day like 14:00"},
		{"conf.daily-too-big.yml", "jobs[0] (j).groups[0].demand.daily", "want 0 to 1"},
		{"conf.demand-base.yml", "jobs[0] (j).groups[0].demand.base_mhz", "must not be negative"},
		{"conf.empty.yml", "node_pools", "at least one pool is required"},
		{"conf.fractional-duration.yml", "boot_delay", "write 1m30s"},
		{"conf.group-count.yml", "jobs[0] (j).groups[0].count", "must not be negative"},
		{"conf.group-name.yml", "jobs[0] (j).groups[0].name", "letters, digits, _ . -"},
		{"conf.group-twice.yml", "jobs[0] (j).groups[1].name", "names must be unique in a job"},
		{"conf.job-id.yml", "jobs[0].id", "letters, digits, _ . -"},
		{"conf.job-twice.yml", "jobs[1] (j).id", "IDs must be unique in a namespace"},
		{"conf.job-type.yml", "jobs[0] (j).type", "valid types are service, batch, system"},
		{"conf.negative-duration.yml", "alloc_start_delay", "want a duration >= 0"},
		{"conf.namespace-token-no-acl.yml", "namespace_tokens[0]", "set acl_token (the token that may do everything) too"},
		{"conf.namespace-token-star.yml", "namespace_tokens[0].namespaces[1]", "name one (a token for all of them is acl_token)"},
		{"conf.no-cpu-ask.yml", "jobs[0] (j).groups[0].cpu", "must be positive"},
		{"conf.no-groups.yml", "jobs[0] (j).groups", "at least one task group is required"},
		{"conf.no-memory-ask.yml", "jobs[0] (j).groups[0].memory_mb", "must be positive"},
		{"conf.no-pools.yml", "node_pools", "at least one pool is required"},
		{"conf.noise.yml", "jobs[0] (j).groups[0].demand.noise", "want 0 to 1"},
		{"conf.nomad-version-old.yml", "nomad_version", "want 1.6.0 or later"},
		{"conf.nomad-version.yml", "nomad_version", "want major.minor.patch such as 1.6.0"},
		{"conf.peak-cron.yml", "jobs[0] (j).groups[0].demand.peaks[0].cron", "want a cron spec as Nomad reads it"},
		{"conf.peak-duration.yml", "jobs[0] (j).groups[0].demand.peaks[0].duration", "must be positive"},
		{"conf.peak-factor.yml", "jobs[0] (j).groups[0].demand.peaks[0].factor", "must be positive"},
		{"conf.peak-without-time.yml", "jobs[0] (j).groups[0].demand.peaks[0]", "set exactly one of cron and at"},
		{"conf.periodic-service.yml", "jobs[0] (j).periodic", "only batch jobs can be periodic"},
		{"conf.periodic-zone.yml", "jobs[0] (j).periodic.time_zone", "want an IANA name such as Europe/Berlin"},
		{"conf.pool-count.yml", "node_pools[0].count", "must not be negative"},
		{"conf.pool-cpu.yml", "node_pools[0].cpu_mhz", "must be positive"},
		{"conf.pool-memory.yml", "node_pools[0].memory_mb", "must be positive"},
		{"conf.pool-name.yml", "node_pools[0].name", "letters, digits, _ . -"},
		{"conf.pool-twice.yml", "node_pools[1].name", "names must be unique"},
		{"conf.priority.yml", "jobs[0] (j).priority", "want 1 to 100"},
		{"conf.reserved.yml", "node_pools[0]", "must be below the node's cpu_mhz and memory_mb"},
		{"conf.scaling-max.yml", "jobs[0] (j).groups[0].scaling.max", "must be set and positive"},
		{"conf.scaling-range.yml", "jobs[0] (j).groups[0].scaling", "want 0 <= min (3) <= max (2)"},
		{"conf.step-too-small.yml", "step", "want 1s or more"},
		{"conf.time-zone.yml", "time_zone", "want an IANA name such as Europe/Berlin"},
		{"conf.trace-align.yml", "jobs[0] (j).groups[0].demand.trace.align", "valid values are start and absolute"},
		{"conf.trace-file.yml", "jobs[0] (j).groups[0].demand.trace.file", "want a CSV file of series,timestamp,value"},
		{"conf.trace-scale.yml", "jobs[0] (j).groups[0].demand.trace", "set at most one of scale and peak_mhz"},
		{"conf.unknown-field.yml", "colour", "valid are seed, region, nomad_version"},
		{"conf.unknown-pool.yml", "jobs[0] (j).node_pool", `no pool "gpu" in node_pools`},
		{"conf.variable-path.yml", "variables[0].path", "must not be empty"},
		{"conf.weekend.yml", "jobs[0] (j).groups[0].demand.weekend", "want 0 to 1"},
		{"conf.wrong-kind.yml", "node_pools[0].cpu_mhz", "want an integer"},
	})
}

func TestValidConfigs(t *testing.T) {
	if _, err := LoadConfig("../examples/fleet.yml"); err != nil {
		t.Fatalf("the demo fleet: %v", err)
	}
	if _, err := New(&Config{NodePools: []PoolConfig{{Name: "p", CPUMHz: 1000, MemoryMB: 1000, Count: 1}}}, testStart); err != nil {
		t.Fatalf("a config built in Go: %v", err)
	}
	// Durations are prometheus/common's: the day and week units the
	// simulator read before, and the Go forms its files use.
	c, err := ParseConfig([]byte("step: 1m30s\nboot_delay: 1d\nalloc_start_delay: 500ms\n"+
		"node_pools: [{name: p, cpu_mhz: 1000, memory_mb: 1000, count: 1}]\n"+
		"jobs: [{id: j, type: batch, periodic: {cron: '@daily', duration: 2w}, groups: [{name: g, cpu: 1, memory_mb: 1}]}]\n"), "fleet.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		got, want time.Duration
	}{
		{"step", time.Duration(c.Step), 90 * time.Second},
		{"boot_delay", time.Duration(c.BootDelay), 24 * time.Hour},
		{"alloc_start_delay", time.Duration(c.AllocStartDelay), 500 * time.Millisecond},
		{"periodic.duration", time.Duration(c.Jobs[0].Periodic.Duration), 14 * 24 * time.Hour},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, tc.got, tc.want)
		}
	}
}
