package exporter

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	nomad "github.com/hashicorp/nomad/api"
	"github.com/prometheus/common/model"

	"github.com/fleetcast/fleetcast/sim"
)

// fakeNomad answers the two Nomad endpoints the lister uses with nomad/api
// structs: one periodic job at 02:00 Europe/Berlin, one service job, and one
// child of the periodic job.
func fakeNomad(t *testing.T) *httptest.Server {
	spec, tz := "0 2 * * *", "Europe/Berlin"
	count, cpu, mem := 3, 500, 256
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/jobs":
			_ = json.NewEncoder(w).Encode([]*nomad.JobListStub{
				{ID: "nightly-etl", Namespace: "batch", Type: "batch", Periodic: true},
				{ID: "nightly-etl/periodic-1", ParentID: "nightly-etl", Namespace: "batch", Type: "batch"},
				{ID: "web", Namespace: "batch", Type: "service"},
			})
		case "/v1/job/nightly-etl":
			id, ns := "nightly-etl", "batch"
			_ = json.NewEncoder(w).Encode(&nomad.Job{ID: &id, Namespace: &ns,
				Periodic:   &nomad.PeriodicConfig{Spec: &spec, TimeZone: &tz},
				Meta:       map[string]string{"fleetcast_duration": "1h"},
				TaskGroups: []*nomad.TaskGroup{{Count: &count, Tasks: []*nomad.Task{{Resources: &nomad.Resources{CPU: &cpu, MemoryMB: &mem}}}}},
			})
		default:
			t.Errorf("unexpected Nomad request %s", r.URL)
			http.NotFound(w, r)
		}
	}))
}

func TestNomadPeriodicDemand(t *testing.T) {
	srv := fakeNomad(t)
	defer srv.Close()
	lister, err := NewNomadLister(&NomadConfig{Address: srv.URL, Namespaces: []string{"batch"}, JobDuration: model.Duration(30 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := lister.PeriodicJobs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0].CPU != 1500 || jobs[0].Memory != 3*256*1024*1024 || jobs[0].Duration != time.Hour {
		t.Fatalf("jobs: %+v", jobs)
	}
	// 2026-11-26 23:30 UTC is 00:30 in Berlin: the 02:00 Berlin launch is
	// at 01:00 UTC, 90 minutes ahead, as Nomad would compute it.
	now := time.Date(2026, 11, 26, 23, 30, 0, 0, time.UTC)
	ls, err := jobs[0].launches(now, now.Add(24*time.Hour))
	if err != nil || len(ls) != 1 || !ls[0].Equal(time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC)) {
		t.Fatalf("launches: %v %v", ls, err)
	}
	pts, err := scheduledDemand(jobs, now, []model.Duration{model.Duration(time.Hour), model.Duration(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, p := range pts {
		got[p.resource+"/"+p.horizon] = p.value
		if p.job != "nightly-etl" || p.namespace != "batch" {
			t.Errorf("labels: %+v", p)
		}
	}
	if got["cpu/1h"] != 0 || got["cpu/2h"] != 1500 || got["memory/2h"] != 3*256*1024*1024 {
		t.Fatalf("demand: %v", got)
	}
	evs := demandEvents(jobs, &ScheduledDemandConfig{Resource: "cpu", Scale: 0.001}, "", now, now.Add(48*time.Hour))
	if len(evs) != 2 || !evs[0].Known || evs[0].Effect != 1.5 || evs[0].End-evs[0].Start != 3600 {
		t.Fatalf("events: %+v", evs)
	}
}

func TestExporterPublishesScheduledDemand(t *testing.T) {
	srv := fakeNomad(t)
	defer srv.Close()
	c := testConfig(t, "    scheduled_demand:\n      resource: cpu\nnomad:\n  address: "+srv.URL+"\n  namespaces: [batch]\n")
	lister, err := NewNomadLister(c.Nomad)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 11, 26, 23, 30, 0, 0, time.UTC)}
	e, err := New(Options{Config: c, Querier: &fakeProm{series: []model.Metric{{"instance": "a"}}, value: daily}, Jobs: lister, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CycleAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	body := scrape(t, e.Handler())
	for _, tc := range []struct {
		sel  string
		want float64
	}{
		{`fleetcast_scheduled_demand{horizon="1h",job="nightly-etl",namespace="batch",node_pool="",resource="cpu"}`, 0},
		{`fleetcast_scheduled_demand{horizon="5m",job="nightly-etl",namespace="batch",node_pool="",resource="memory"}`, 0},
		{`fleetcast_exporter_nomad_periodic_jobs`, 1},
	} {
		if got := gauge(t, body, tc.sel); got != tc.want {
			t.Errorf("%s = %g, want %g", tc.sel, got, tc.want)
		}
	}
}

// TestNomadAgainstSimulator reads the periodic jobs of the simulated fleet
// of examples/fleet.yml through its Nomad HTTP API.
func TestNomadAgainstSimulator(t *testing.T) {
	cfg, err := sim.LoadConfig("../examples/fleet.yml")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 26, 9, 10, 0, 0, time.UTC)
	fleet, err := sim.New(cfg, start)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fleet.Handler())
	defer srv.Close()
	lister, err := NewNomadLister(&NomadConfig{Address: srv.URL, Token: cfg.ACLToken, Namespaces: []string{"*"}, JobDuration: model.Duration(30 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := lister.PeriodicJobs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var want []sim.JobConfig
	for _, j := range cfg.Jobs {
		if j.Periodic != nil {
			want = append(want, j)
		}
	}
	if len(jobs) != len(want) || len(want) == 0 {
		t.Fatalf("read %d periodic jobs, the fleet has %d", len(jobs), len(want))
	}
	for _, w := range want {
		var got *PeriodicJob
		for i := range jobs {
			if jobs[i].ID == w.ID {
				got = &jobs[i]
			}
		}
		if got == nil {
			t.Fatalf("job %s not read", w.ID)
		}
		var cpu float64
		for _, g := range w.Groups {
			cpu += float64(g.Count * g.CPU)
		}
		if got.CPU != cpu || len(got.Specs) != 1 || got.Specs[0] != w.Periodic.Cron {
			t.Errorf("job %s: cpu %g specs %v, want cpu %g cron %q", w.ID, got.CPU, got.Specs, cpu, w.Periodic.Cron)
		}
		ls, err := got.launches(start, start.Add(24*time.Hour))
		if err != nil || len(ls) == 0 {
			t.Errorf("job %s: launches %v %v", w.ID, ls, err)
		}
	}
}
