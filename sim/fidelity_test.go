package sim

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// TestScaleStatusHealthyIsDeploymentHealth: Healthy in scale status is the
// latest deployment's count, as on a real Nomad: not the running
// allocations. It is 0 right after a scale and for batch jobs, and grows as
// allocations run min_healthy_time.
func TestScaleStatusHealthyIsDeploymentHealth(t *testing.T) {
	f := testFleet(t)
	c := testClient(t, f, "")
	status := func(job, group string) api.TaskGroupScaleStatus {
		t.Helper()
		st, _, err := c.Jobs().ScaleStatus(job, nil)
		if err != nil {
			t.Fatal(err)
		}
		return st.TaskGroups[group]
	}
	f.Advance(testStart.Add(time.Minute))
	if g := status("web", "web"); g.Running != 3 || g.Healthy != 3 {
		t.Fatalf("settled web: running %d healthy %d, want 3 and 3", g.Running, g.Healthy)
	}
	if err := f.ScaleGroup("", "web", "web", 2, "in"); err != nil {
		t.Fatal(err)
	}
	if g := status("web", "web"); g.Running != 2 || g.Healthy != 0 {
		t.Fatalf("right after a scale: running %d healthy %d, want 2 and 0", g.Running, g.Healthy)
	}
	f.Advance(f.Now().Add(minHealthyTime))
	if g := status("web", "web"); g.Healthy != 2 {
		t.Fatalf("min_healthy_time after the scale: healthy %d, want 2", g.Healthy)
	}
	// A replacement is not healthy until it has run min_healthy_time.
	var victim string
	for _, a := range f.Allocs() {
		if a.JobID == "web" {
			victim = a.ID
		}
	}
	if _, err := f.StopAlloc(victim); err != nil {
		t.Fatal(err)
	}
	f.Advance(f.Now().Add(time.Duration(f.cfg.AllocStartDelay)))
	if g := status("web", "web"); g.Running != 2 || g.Healthy != 1 {
		t.Fatalf("replacement just started: running %d healthy %d, want 2 and 1", g.Running, g.Healthy)
	}
	f.Advance(f.Now().Add(minHealthyTime))
	if g := status("web", "web"); g.Healthy != 2 {
		t.Fatalf("replacement running %s: healthy %d, want 2", minHealthyTime, g.Healthy)
	}
	// Batch jobs have no deployments.
	f.Advance(time.Date(2026, 11, 24, 1, 35, 0, 0, time.UTC)) // nightly ran at 02:30 Berlin
	jobs, _, err := c.Jobs().PrefixList("nightly/")
	if err != nil || len(jobs) == 0 {
		t.Fatalf("nightly children: %v %v", jobs, err)
	}
	if g := status(jobs[0].ID, "crunch"); g.Running == 0 || g.Healthy != 0 {
		t.Fatalf("batch child: running %d healthy %d, want some running and 0 healthy", g.Running, g.Healthy)
	}
}

// TestScaleStatusEventsNull: a group never scaled has "Events": null.
func TestScaleStatusEventsNull(t *testing.T) {
	f := testFleet(t)
	c := testClient(t, f, "")
	var raw map[string]any
	if _, err := c.Raw().Query("/v1/job/web/scale", &raw, nil); err != nil {
		t.Fatal(err)
	}
	tg, _ := raw["TaskGroups"].(map[string]any)["web"].(map[string]any)
	if ev, ok := tg["Events"]; !ok || ev != nil {
		t.Fatalf("Events of a group never scaled: %#v (present %v), want null", ev, ok)
	}
	if err := f.ScaleGroup("", "web", "web", 2, "in"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Raw().Query("/v1/job/web/scale", &raw, nil); err != nil {
		t.Fatal(err)
	}
	tg, _ = raw["TaskGroups"].(map[string]any)["web"].(map[string]any)
	if ev, _ := tg["Events"].([]any); len(ev) != 1 {
		t.Fatalf("Events after a scale: %#v", tg["Events"])
	}
}

// TestNodeListFilter: /v1/nodes?filter= selects with Nomad's filter
// expressions; what the simulator does not read is a 400 that says so.
func TestNodeListFilter(t *testing.T) {
	f := testFleet(t)
	c := testClient(t, f, "")
	nodes := f.Nodes()
	if err := f.SetEligibility(nodes[0].ID, false); err != nil {
		t.Fatal(err)
	}
	list := func(filter string) ([]*api.NodeListStub, error) {
		out, _, err := c.Nodes().List(&api.QueryOptions{Filter: filter})
		return out, err
	}
	count := func(pred func(NodeInfo) bool) int {
		n := 0
		for _, x := range f.Nodes() {
			if pred(x) {
				n++
			}
		}
		return n
	}
	for _, tc := range []struct {
		filter string
		want   int
	}{
		{`NodePool == "default"`, count(func(n NodeInfo) bool { return n.Pool == "default" })},
		{`NodePool == "default" and SchedulingEligibility == "eligible"`, count(func(n NodeInfo) bool { return n.Pool == "default" && n.Eligible })},
		{`SchedulingEligibility != "eligible" or NodePool == "batch"`, count(func(n NodeInfo) bool { return !n.Eligible || n.Pool == "batch" })},
		{`not (NodePool == "default")`, count(func(n NodeInfo) bool { return n.Pool != "default" })},
		{`Drain == false and Status == "ready"`, len(nodes)},
		{`Name matches "^default-[12]$"`, 2},
		{`Name contains "batch"`, count(func(n NodeInfo) bool { return n.Pool == "batch" })},
		{`"docker" in Drivers`, len(nodes)},
		{`Drivers["docker"].Healthy == true`, len(nodes)},
		{`NodeClass is empty`, count(func(n NodeInfo) bool { return n.Class == "" })},
	} {
		got, err := list(tc.filter)
		if err != nil {
			t.Errorf("%s: %v", tc.filter, err)
			continue
		}
		if len(got) != tc.want {
			t.Errorf("%s: %d nodes, want %d", tc.filter, len(got), tc.want)
		}
	}
	for _, bad := range []string{`NodePool = "default"`, `NodePool == `, `Nope == "x"`, `NodePool > "a"`, `(NodePool == "a"`} {
		_, err := list(bad)
		code, body := statusOf(t, err)
		if code != 400 || !strings.HasPrefix(body, "failed to read filter expression: ") {
			t.Errorf("%s: %d %q, want 400 failed to read filter expression", bad, code, body)
		}
	}
}

// TestJobAndAllocListFilter: the same filter on /v1/jobs and /v1/allocations.
func TestJobAndAllocListFilter(t *testing.T) {
	f := testFleet(t)
	c := testClient(t, f, "")
	jobs, _, err := c.Jobs().List(&api.QueryOptions{Filter: `Type == "service" and Periodic == false`})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, j := range f.Jobs() {
		if j.Type == "service" && j.Periodic == "" {
			want++
		}
	}
	if len(jobs) != want || want == 0 {
		t.Fatalf("service jobs: %d, want %d", len(jobs), want)
	}
	allocs, _, err := c.Allocations().List(&api.QueryOptions{Filter: `JobID == "web" and ClientStatus == "running"`})
	if err != nil {
		t.Fatal(err)
	}
	if len(allocs) != 3 {
		t.Fatalf("running web allocations: %d, want 3", len(allocs))
	}
	_, _, err = c.Allocations().List(&api.QueryOptions{Filter: `JobID ~= "web"`})
	if code, _ := statusOf(t, err); code != 400 {
		t.Fatalf("bad filter on allocations: %d, want 400", code)
	}
}

// TestAllocListFields: /v1/allocations answers one namespace (default
// unless ?namespace says) or, with namespace=*, all of them; its stubs
// carry AllocatedResources only with ?resources=true, TaskStates unless
// ?task_states=false, and DesiredTransition always, as Nomad's list stub
// does; a filter on the statuses keeps the live allocations.
func TestAllocListFields(t *testing.T) {
	f := financeFleet(t, "", 2)
	c := testClient(t, f, "")
	f.Advance(testStart.Add(time.Minute))
	var stopped string
	for _, a := range f.Allocs() {
		if a.JobID == "api" {
			stopped = a.ID
		}
	}
	if _, err := f.StopAlloc(stopped); err != nil {
		t.Fatal(err)
	}
	count := func(ns string, filter string) (all, finance int) {
		t.Helper()
		l, _, err := c.Allocations().List(&api.QueryOptions{Namespace: ns, Filter: filter})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range l {
			if s.Namespace == "finance" {
				finance++
			}
		}
		return len(l), finance
	}
	def, fin := count("", "")
	if fin != 0 || def != 7 { // web 3, api 2 and the stopped one's replacement, pinned 1
		t.Errorf("default namespace: %d allocations, %d of finance; want 7 and 0", def, fin)
	}
	all, fin := count("*", "")
	if fin != 2 || all != def+2 {
		t.Errorf("namespace=*: %d allocations, %d of finance; want %d and 2", all, fin, def+2)
	}
	live, _ := count("*", `DesiredStatus == "run" and (ClientStatus == "running" or ClientStatus == "pending")`)
	if live != all-1 {
		t.Errorf("live allocations: %d, want %d (all but the stopped one)", live, all-1)
	}
	raw := func(query string) []map[string]any {
		t.Helper()
		var out []map[string]any
		if _, err := c.Raw().Query("/v1/allocations?namespace=*"+query, &out, nil); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tc := range []struct {
		query                 string
		resources, taskStates bool
	}{{"", false, true}, {"&resources=true", true, true}, {"&resources=true&task_states=false", true, false}, {"&task_states=false", false, false}} {
		for _, s := range raw(tc.query) {
			res, hasRes := s["AllocatedResources"]
			ts, hasTS := s["TaskStates"]
			if hasRes != tc.resources || (tc.resources && res == nil) {
				t.Fatalf("%q: AllocatedResources %v (present %v), want present %v", tc.query, res, hasRes, tc.resources)
			}
			if !hasTS || (ts != nil) != tc.taskStates {
				t.Fatalf("%q: TaskStates %v (present %v), want null %v", tc.query, ts, hasTS, !tc.taskStates)
			}
			dt, ok := s["DesiredTransition"].(map[string]any)
			if !ok {
				t.Fatalf("%q: no DesiredTransition in %v", tc.query, s)
			}
			if s["ID"] == stopped && dt["Migrate"] != true {
				t.Fatalf("the stopped allocation's DesiredTransition: %v, want Migrate true", dt)
			}
		}
	}
}

// TestNamespaceTokens: a token with rights in namespace default only (a
// namespace_tokens entry) is refused (403) where it names finance, and
// where it lists every namespace (namespace=*, a node's allocations) the
// allocations, jobs and variables of finance are left out without an
// error; an allocation of finance is unknown to it (404) and it may not
// stop one (403). The token that may do everything sees them.
func TestNamespaceTokens(t *testing.T) {
	f := financeFleet(t, "acl_token: root\nnamespace_tokens:\n  - {secret: ops, namespaces: [default]}\n", 3)
	root, ops := testClient(t, f, "root"), testClient(t, f, "ops")
	var ledger *api.AllocationListStub
	finance := func(c *api.Client) (allocs, onNode, jobs int) {
		t.Helper()
		l, _, err := c.Allocations().List(&api.QueryOptions{Namespace: "*"})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range l {
			if s.Namespace == "finance" {
				allocs++
				ledger = s
			}
		}
		nl, _, err := c.Nodes().Allocations(ledger.NodeID, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range nl {
			if a.Namespace == "finance" {
				onNode++
			}
		}
		jl, _, err := c.Jobs().List(&api.QueryOptions{Namespace: "*"})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jl {
			if j.Namespace == "finance" {
				jobs++
			}
		}
		return allocs, onNode, jobs
	}
	if a, n, j := finance(root); a != 3 || n == 0 || j != 1 {
		t.Fatalf("root token: %d finance allocations, %d on a node, %d jobs; want 3, some, 1", a, n, j)
	}
	seen := ledger
	if a, n, j := finance(ops); a != 0 || n != 0 || j != 0 {
		t.Fatalf("default-only token: %d finance allocations, %d on a node, %d jobs; want none", a, n, j)
	}
	_, _, err := ops.Allocations().List(&api.QueryOptions{Namespace: "finance"})
	if code, body := statusOf(t, err); code != 403 || body != "Permission denied" {
		t.Errorf("listing finance with the default-only token: %d %q, want 403", code, body)
	}
	_, _, err = ops.Jobs().Info("books", &api.QueryOptions{Namespace: "finance"})
	if code, _ := statusOf(t, err); code != 403 {
		t.Errorf("reading a finance job with the default-only token: %d, want 403", code)
	}
	_, _, err = ops.Allocations().Info(seen.ID, nil)
	if code, _ := statusOf(t, err); code != 404 {
		t.Errorf("reading a finance allocation with the default-only token: %d, want 404", code)
	}
	_, err = ops.Allocations().Stop(&api.Allocation{ID: seen.ID, Namespace: "finance"}, nil)
	if code, _ := statusOf(t, err); code != 403 {
		t.Errorf("stopping a finance allocation with the default-only token: %d, want 403", code)
	}
	if _, _, err := ops.Jobs().Info("web", nil); err != nil {
		t.Errorf("reading a default job with the default-only token: %v", err)
	}
	_, _, err = testClient(t, f, "nobody").Nodes().List(nil)
	if code, _ := statusOf(t, err); code != 403 {
		t.Errorf("unknown token: %d, want 403", code)
	}
}

// financeFleet is testdata/fleet.yml with head before it and one more job,
// books, in namespace finance: a group ledger of ledgers allocations.
func financeFleet(t *testing.T, head string, ledgers int) *Fleet {
	t.Helper()
	b, err := os.ReadFile("testdata/fleet.yml")
	if err != nil {
		t.Fatal(err)
	}
	text := head + strings.Replace(string(b), "\njobs:\n", fmt.Sprintf(`
jobs:
  - id: books
    namespace: finance
    groups:
      - {name: ledger, count: %d, cpu: 300, memory_mb: 128}
`, ledgers), 1)
	cfg, err := ParseConfig([]byte(text), "testdata/fleet.yml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(cfg, testStart)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
