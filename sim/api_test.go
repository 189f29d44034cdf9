package sim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

var testStart = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC) // a Monday

func testFleet(t *testing.T) *Fleet {
	t.Helper()
	cfg, err := LoadConfig("testdata/fleet.yml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(cfg, testStart)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// testClient serves the fleet over httptest and returns the official client.
func testClient(t *testing.T, f *Fleet, token string) *api.Client {
	t.Helper()
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	c, err := api.NewClient(&api.Config{Address: srv.URL, SecretID: token})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// statusOf returns the HTTP status and body of a client error.
func statusOf(t *testing.T, err error) (int, string) {
	t.Helper()
	var ue api.UnexpectedResponseError
	if !errors.As(err, &ue) {
		t.Fatalf("want an UnexpectedResponseError, got %T: %v", err, err)
	}
	return ue.StatusCode(), ue.Body()
}

func TestJobsListAndRead(t *testing.T) {
	f := testFleet(t)
	c := testClient(t, f, "")
	jobs, meta, err := c.Jobs().ListOptions(&api.JobListOptions{Fields: &api.JobListFields{Meta: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if meta.LastIndex == 0 || !meta.KnownLeader {
		t.Errorf("query meta: %+v", meta)
	}
	var ids []string
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	if got := strings.Join(ids, ","); got != "api,nightly,pinned,web" {
		t.Fatalf("job list: %s", got)
	}
	for _, j := range jobs {
		switch j.ID {
		case "nightly":
			if !j.Periodic || j.Type != "batch" {
				t.Errorf("nightly stub: periodic %v type %s", j.Periodic, j.Type)
			}
		case "pinned":
			if j.Meta["fleetcast.migrate"] != "false" {
				t.Errorf("pinned meta: %v", j.Meta)
			}
		case "web":
			if s := j.JobSummary.Summary["web"]; s.Running != 3 || s.Queued != 0 {
				t.Errorf("web summary: %+v", s)
			}
		}
	}

	job, _, err := c.Jobs().Info("nightly", nil)
	if err != nil {
		t.Fatal(err)
	}
	p := job.Periodic
	if p == nil || *p.Spec != "30 2 * * *" || *p.SpecType != "cron" || *p.TimeZone != "Europe/Berlin" || !*p.ProhibitOverlap || !*p.Enabled {
		t.Fatalf("periodic config: %+v", p)
	}
	tg := job.TaskGroups[0]
	if *tg.Name != "crunch" || *tg.Count != 2 || *tg.Tasks[0].Resources.CPU != 3000 || *tg.Tasks[0].Resources.MemoryMB != 4096 {
		t.Fatalf("nightly group: %+v", tg)
	}
	web, _, err := c.Jobs().Info("web", nil)
	if err != nil {
		t.Fatal(err)
	}
	s := web.TaskGroups[0].Scaling
	if s == nil || *s.Min != 1 || *s.Max != 6 || !*s.Enabled {
		t.Fatalf("web scaling: %+v", s)
	}
	if c := web.TaskGroups[0].Constraints; len(c) != 1 || c[0].Operand != "distinct_hosts" {
		t.Fatalf("web constraints: %+v", c)
	}

	_, _, err = c.Jobs().Info("nope", nil)
	if code, body := statusOf(t, err); code != 404 || body != "job not found" {
		t.Fatalf("unknown job: %d %q", code, body)
	}
}

func TestScale(t *testing.T) {
	tests := []struct {
		name     string
		job      string
		group    string
		count    int
		wantCode int
		wantBody string
		placed   int
	}{
		// distinct_hosts on three nodes: two of the five stay queued.
		{"up", "web", "web", 5, 0, "", 3},
		{"down", "web", "web", 1, 0, "", 1},
		{"above max", "web", "web", 7, 400, "group count was greater than scaling policy maximum: 7 > 6", 0},
		{"below min", "web", "web", 0, 400, "group count was less than scaling policy minimum: 0 < 1", 0},
		{"unknown group", "web", "nope", 2, 400, `task group "nope" specified for scaling does not exist in job`, 0},
		{"unknown job", "nope", "web", 2, 404, `job "nope" not found`, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := testFleet(t)
			c := testClient(t, f, "")
			resp, _, err := c.Jobs().Scale(tc.job, tc.group, &tc.count, "test", false, map[string]any{"by": "test"}, nil)
			if tc.wantCode != 0 {
				if code, body := statusOf(t, err); code != tc.wantCode || body != tc.wantBody {
					t.Fatalf("got %d %q, want %d %q", code, body, tc.wantCode, tc.wantBody)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.EvalID == "" || resp.JobModifyIndex == 0 {
				t.Fatalf("scale response: %+v", resp)
			}
			st, _, err := c.Jobs().ScaleStatus(tc.job, nil)
			if err != nil {
				t.Fatal(err)
			}
			g := st.TaskGroups[tc.group]
			if g.Desired != tc.count || g.Placed != tc.placed || len(g.Events) != 1 {
				t.Fatalf("scale status: %+v", g)
			}
			ev := g.Events[0]
			if *ev.Count != int64(tc.count) || ev.PreviousCount != 3 || ev.Message != "test" || ev.Meta["by"] != "test" || ev.EvalID == nil {
				t.Fatalf("scaling event: %+v", ev)
			}
		})
	}
}

func TestScaleBlockedByDeployment(t *testing.T) {
	f := testFleet(t)
	c := testClient(t, f, "")
	n := 3
	if _, _, err := c.Jobs().Scale("api", "api", &n, "first", false, nil, nil); err != nil {
		t.Fatal(err)
	}
	dep, _, err := c.Jobs().LatestDeployment("api", nil)
	if err != nil || dep == nil || dep.Status != "running" {
		t.Fatalf("latest deployment: %+v %v", dep, err)
	}
	n = 4
	_, _, err = c.Jobs().Scale("api", "api", &n, "second", false, nil, nil)
	if code, body := statusOf(t, err); code != 400 || body != "job scaling blocked due to active deployment" {
		t.Fatalf("scale during deployment: %d %q", code, body)
	}
	f.Advance(testStart.Add(6 * time.Minute))
	if _, _, err := c.Jobs().Scale("api", "api", &n, "after", false, nil, nil); err != nil {
		t.Fatalf("scale after the deployment: %v", err)
	}
}

func TestAllocationsListReadStop(t *testing.T) {
	f := testFleet(t)
	c := testClient(t, f, "")
	stubs, _, err := c.Allocations().List(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(stubs) != 6 { // web 3, api 2, pinned 1
		t.Fatalf("%d allocations, want 6", len(stubs))
	}
	var web *api.AllocationListStub
	for _, s := range stubs {
		if s.JobID == "web" && web == nil {
			web = s
		}
		if s.ClientStatus != "running" || s.DesiredStatus != "run" {
			t.Errorf("alloc %s: %s/%s", s.Name, s.DesiredStatus, s.ClientStatus)
		}
	}
	a, _, err := c.Allocations().Info(web.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Job == nil || *a.Job.ID != "web" || a.AllocatedResources.Tasks["web"].Cpu.CpuShares != 1000 || a.NodeID != web.NodeID {
		t.Fatalf("alloc info: %+v", a)
	}
	resp, err := c.Allocations().Stop(a, nil)
	if err != nil || resp.EvalID == "" {
		t.Fatalf("stop: %+v %v", resp, err)
	}
	old, _, err := c.Allocations().Info(web.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if old.DesiredStatus != "stop" || old.NextAllocation == "" {
		t.Fatalf("stopped alloc: desired %s next %q", old.DesiredStatus, old.NextAllocation)
	}
	repl, _, err := c.Allocations().Info(old.NextAllocation, nil)
	if err != nil {
		t.Fatal(err)
	}
	if repl.PreviousAllocation != old.ID || repl.ClientStatus != "pending" || repl.TaskGroup != "web" {
		t.Fatalf("replacement: prev %s status %s", repl.PreviousAllocation, repl.ClientStatus)
	}
	f.Advance(testStart.Add(30 * time.Second))
	repl, _, _ = c.Allocations().Info(old.NextAllocation, nil)
	if repl.ClientStatus != "running" {
		t.Fatalf("replacement after the start delay: %s", repl.ClientStatus)
	}

	_, _, err = c.Allocations().Info("00000000-0000-0000-0000-000000000000", nil)
	if code, body := statusOf(t, err); code != 404 || body != "alloc not found" {
		t.Fatalf("unknown alloc: %d %q", code, body)
	}
	_, err = c.Allocations().Stop(&api.Allocation{ID: "00000000-0000-0000-0000-000000000000"}, nil)
	if code, _ := statusOf(t, err); code != 404 {
		t.Fatalf("stop unknown alloc: %d", code)
	}
}

func TestNodesEligibilityDrain(t *testing.T) {
	f := testFleet(t)
	c := testClient(t, f, "")
	nodes, _, err := c.Nodes().List(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 4 {
		t.Fatalf("%d nodes, want 4", len(nodes))
	}
	sort.Slice(nodes, func(i, k int) bool { return nodes[i].Name < nodes[k].Name })
	n0 := nodes[1] // default-1
	if n0.Name != "default-1" || n0.NodePool != "default" || n0.Datacenter != "dc1" || n0.NodeClass != "general" || n0.Status != "ready" {
		t.Fatalf("node stub: %+v", n0)
	}
	node, _, err := c.Nodes().Info(n0.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if node.NodeResources.Cpu.CpuShares != 4000 || node.NodeResources.Memory.MemoryMB != 8192 || node.SchedulingEligibility != "eligible" {
		t.Fatalf("node info: %+v", node.NodeResources)
	}
	if _, err := c.Nodes().ToggleEligibility(n0.ID, false, nil); err != nil {
		t.Fatal(err)
	}
	node, _, _ = c.Nodes().Info(n0.ID, nil)
	if node.SchedulingEligibility != "ineligible" {
		t.Fatalf("after toggle: %s", node.SchedulingEligibility)
	}
	if _, err := c.Nodes().ToggleEligibility(n0.ID, true, nil); err != nil {
		t.Fatal(err)
	}

	allocs, _, err := c.Nodes().Allocations(n0.ID, nil)
	if err != nil || len(allocs) == 0 {
		t.Fatalf("node allocations: %d %v", len(allocs), err)
	}
	// Three nodes, distinct_hosts web at 3: draining one leaves web a
	// replacement it cannot place until a node is added.
	if _, err := c.Nodes().UpdateDrain(n0.ID, &api.DrainSpec{Deadline: time.Hour}, false, nil); err != nil {
		t.Fatal(err)
	}
	node, _, _ = c.Nodes().Info(n0.ID, nil)
	if node.Drain || node.SchedulingEligibility != "ineligible" || node.LastDrain == nil || node.LastDrain.Status != "complete" {
		t.Fatalf("after drain: drain %v eligibility %s last %+v", node.Drain, node.SchedulingEligibility, node.LastDrain)
	}
	allocs, _, _ = c.Nodes().Allocations(n0.ID, nil)
	for _, a := range allocs {
		if a.DesiredStatus == "run" {
			t.Errorf("alloc %s still runs on the drained node", a.Name)
		}
	}
	web, _, _ := c.Jobs().Summary("web", nil)
	if web.Summary["web"].Queued != 1 {
		t.Fatalf("web after drain: %+v", web.Summary["web"])
	}

	_, _, err = c.Nodes().Info("00000000-0000-0000-0000-000000000000", nil)
	if code, body := statusOf(t, err); code != 404 || body != "node not found" {
		t.Fatalf("unknown node: %d %q", code, body)
	}
}

func TestPoolSize(t *testing.T) {
	f := testFleet(t)
	c := testClient(t, f, "")
	// The drain leaves one web allocation queued; a new node places it.
	nodes, _, _ := c.Nodes().List(nil)
	var id string
	for _, n := range nodes {
		if n.Name == "default-1" {
			id = n.ID
		}
	}
	if _, err := c.Nodes().UpdateDrain(id, &api.DrainSpec{}, false, nil); err != nil {
		t.Fatal(err)
	}
	var st PoolStatus
	if _, err := c.Raw().Write("/v1/fleetcast/pool/default/size", map[string]int{"Count": 4}, &st, nil); err != nil {
		t.Fatal(err)
	}
	if st.Count != 4 || st.Ready != 3 || st.Booting != 1 {
		t.Fatalf("pool after resize: %+v", st)
	}
	f.Advance(testStart.Add(3 * time.Minute))
	sum, _, _ := c.Jobs().Summary("web", nil)
	if g := sum.Summary["web"]; g.Queued != 0 || g.Running != 3 {
		t.Fatalf("web after the new node booted: %+v", g)
	}
	_, err := c.Raw().Write("/v1/fleetcast/pool/default/size", map[string]int{"Count": 9}, &st, nil)
	if code, _ := statusOf(t, err); code != 400 {
		t.Fatalf("size above max: %d", code)
	}
	_, err = c.Raw().Write("/v1/fleetcast/pool/nope/size", map[string]int{"Count": 1}, &st, nil)
	if code, _ := statusOf(t, err); code != 404 {
		t.Fatalf("unknown pool: %d", code)
	}
}

func TestVariablesCASAndLocks(t *testing.T) {
	f := testFleetVersion(t, "1.7.7") // locks need Nomad 1.7
	wall := testStart
	f.SetWallClock(func() time.Time { return wall })
	c := testClient(t, f, "")
	v, _, err := c.Variables().Read("fleetcast/settings", nil)
	if err != nil || v.Items["mode"] != "predictive" {
		t.Fatalf("read: %+v %v", v, err)
	}
	if _, _, err := c.Variables().Read("nope", nil); !errors.Is(err, api.ErrVariablePathNotFound) {
		t.Fatalf("read missing: %v", err)
	}
	v.Items["mode"] = "reactive"
	v2, _, err := c.Variables().CheckedUpdate(v, nil)
	if err != nil || v2.ModifyIndex <= v.ModifyIndex {
		t.Fatalf("checked update: %+v %v", v2, err)
	}
	// The old index no longer matches.
	_, _, err = c.Variables().CheckedUpdate(v, nil)
	var cas api.ErrCASConflict
	if !errors.As(err, &cas) || cas.Conflict.ModifyIndex != v2.ModifyIndex {
		t.Fatalf("stale checked update: %v", err)
	}
	if _, _, err := c.Variables().CheckedCreate(&api.Variable{Path: "fleetcast/settings", Items: api.VariableItems{"a": "b"}}, nil); !errors.As(err, &cas) {
		t.Fatalf("checked create of an existing variable: %v", err)
	}
	list, _, err := c.Variables().PrefixList("fleetcast/", nil)
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}

	// Leader election as the actuator does it.
	lv := api.Variable{Path: "fleetcast/leader", Lock: &api.VariableLock{TTL: "15s", LockDelay: "5s"}}
	l1, err := c.Locks(api.WriteOptions{}, lv)
	if err != nil {
		t.Fatal(err)
	}
	l2, _ := c.Locks(api.WriteOptions{}, lv)
	ctx := context.Background()
	if _, err := l1.Acquire(ctx); err != nil {
		t.Fatalf("first acquire: %v", err)
	}
	if _, err := l2.Acquire(ctx); !errors.Is(err, api.ErrLockConflict) {
		t.Fatalf("second acquire: %v", err)
	}
	if err := l2.Renew(ctx); !errors.Is(err, api.ErrLockConflict) {
		t.Fatalf("renew by non-holder: %v", err)
	}
	wall = wall.Add(10 * time.Second)
	if err := l1.Renew(ctx); err != nil {
		t.Fatalf("renew: %v", err)
	}
	wall = wall.Add(16 * time.Second) // TTL passes without renewal
	if _, err := l2.Acquire(ctx); !errors.Is(err, api.ErrLockConflict) {
		t.Fatalf("acquire during the lock delay: %v", err)
	}
	wall = wall.Add(6 * time.Second)
	if _, err := l2.Acquire(ctx); err != nil {
		t.Fatalf("acquire after expiry and delay: %v", err)
	}
	if err := l1.Release(ctx); !errors.Is(err, api.ErrLockConflict) {
		t.Fatalf("release by the old holder: %v", err)
	}
	if err := l2.Release(ctx); err != nil {
		t.Fatalf("release: %v", err)
	}
	if _, err := l1.Acquire(ctx); err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	if _, err := c.Variables().Delete("fleetcast/settings", nil); err != nil {
		t.Fatalf("delete: %v", err)
	}
}

func TestACLAndUnknownEndpoints(t *testing.T) {
	cfg, err := LoadConfig("testdata/fleet.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.ACLToken = "s3cret"
	f, err := New(cfg, testStart)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = testClient(t, f, "wrong").Jobs().List(nil)
	if code, body := statusOf(t, err); code != 403 || body != "Permission denied" {
		t.Fatalf("bad token: %d %q", code, body)
	}
	c := testClient(t, f, "s3cret")
	if _, _, err := c.Jobs().List(nil); err != nil {
		t.Fatalf("good token: %v", err)
	}
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	for path, want := range map[string]int{"/v1/acl/tokens": 404, "/metrics": 200, "/-/healthy": 200, "/-/ready": 200} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("X-Nomad-Token", "s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// TestConcurrentUse drives the fleet in real time while clients read and
// write through the API; run with -race.
func TestConcurrentUse(t *testing.T) {
	f := testFleet(t)
	c := testClient(t, f, "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	clock := testStart
	var mu sync.Mutex
	go func() {
		defer close(done)
		f.Run(ctx, time.Millisecond, func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			clock = clock.Add(time.Minute)
			return clock
		})
	}()
	for i := 0; i < 20; i++ {
		n := 1 + i%5
		if _, _, err := c.Jobs().Scale("web", "web", &n, "race", false, nil, nil); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Allocations().List(nil); err != nil {
			t.Fatal(err)
		}
		_ = f.Truth()
		_ = scrape(t, f)
	}
	cancel()
	<-done
	if !f.Now().After(testStart) {
		t.Fatal("Run did not advance the fleet")
	}
}

// TestPeriodicChildOverAPI: a launched child is listed and read by its ID,
// which contains a slash, as Nomad names it.
func TestPeriodicChildOverAPI(t *testing.T) {
	f := testFleet(t)
	c := testClient(t, f, "")
	f.Advance(testStart.Add(91 * time.Minute)) // 02:30 in Berlin is 01:30 UTC
	jobs, _, err := c.Jobs().PrefixList("nightly/")
	if err != nil || len(jobs) != 1 {
		t.Fatalf("children: %v %v", jobs, err)
	}
	id := jobs[0].ID
	if id != fmt.Sprintf("nightly/periodic-%d", testStart.Add(90*time.Minute).Unix()) || jobs[0].ParentID != "nightly" || jobs[0].Periodic {
		t.Fatalf("child stub: %+v", jobs[0])
	}
	job, _, err := c.Jobs().Info(id, nil)
	if err != nil || *job.ParentID != "nightly" || *job.Status != "running" {
		t.Fatalf("child: %+v %v", job, err)
	}
	allocs, _, err := c.Jobs().Allocations(id, false, nil)
	if err != nil || len(allocs) != 2 {
		t.Fatalf("child allocations: %d %v", len(allocs), err)
	}
	parent, _, err := c.Jobs().Summary("nightly", nil)
	if err != nil || parent.Children == nil || parent.Children.Running != 1 {
		t.Fatalf("parent summary: %+v %v", parent, err)
	}
}

// TestBlockingQuery: a read with ?index waits for the next change.
func TestBlockingQuery(t *testing.T) {
	f := testFleet(t)
	c := testClient(t, f, "")
	_, meta, err := c.Jobs().List(nil)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		_ = f.ScaleGroup("", "web", "web", 2, "while blocked")
	}()
	began := time.Now()
	st, meta2, err := c.Jobs().ScaleStatus("web", &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if meta2.LastIndex <= meta.LastIndex || st.TaskGroups["web"].Desired != 2 {
		t.Fatalf("index %d -> %d, desired %d", meta.LastIndex, meta2.LastIndex, st.TaskGroups["web"].Desired)
	}
	if waited := time.Since(began); waited > 10*time.Second {
		t.Fatalf("waited %s for a change made after 100ms", waited)
	}
}

// TestBlockedEvaluations: allocations that cannot be placed leave a blocked
// evaluation that says why, until they are placed.
func TestBlockedEvaluations(t *testing.T) {
	f := testFleet(t)
	c := testClient(t, f, "")
	n := 5
	if _, _, err := c.Jobs().Scale("web", "web", &n, "beyond the nodes", false, nil, nil); err != nil {
		t.Fatal(err)
	}
	evals, _, err := c.Evaluations().List(nil)
	if err != nil || len(evals) != 1 {
		t.Fatalf("evaluations: %v %v", evals, err)
	}
	e := evals[0]
	m := e.FailedTGAllocs["web"]
	if e.Status != "blocked" || e.JobID != "web" || e.QueuedAllocations["web"] != 2 || m == nil || m.NodesEvaluated != 3 || m.ConstraintFiltered["${node.unique.id}"] != 3 {
		t.Fatalf("blocked evaluation: %+v, metric %+v", e, m)
	}
	jobEvals, _, err := c.Jobs().Evaluations("web", nil)
	if err != nil || len(jobEvals) != 1 || jobEvals[0].ID != e.ID {
		t.Fatalf("job evaluations: %v %v", jobEvals, err)
	}
	n = 3
	if _, _, err := c.Jobs().Scale("web", "web", &n, "back", false, nil, nil); err != nil {
		t.Fatal(err)
	}
	if evals, _, _ := c.Evaluations().List(nil); len(evals) != 0 {
		t.Fatalf("evaluations after scaling back: %v", evals)
	}
}
