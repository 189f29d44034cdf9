package dashboards

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

// TestGeneratedJSONUpToDate fails when the committed JSON differs from what
// the generator writes now.
func TestGeneratedJSONUpToDate(t *testing.T) {
	files, err := Generate()
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	want := make([]string, 0, len(files))
	for _, f := range files {
		want = append(want, f.Name)
		got, err := os.ReadFile(f.Name)
		if err != nil {
			t.Errorf("%s: %v (run: go generate ./dashboards)", f.Name, err)
			continue
		}
		if !bytes.Equal(got, f.JSON) {
			t.Errorf("%s differs from the generator's output (first difference near byte %d); run: go generate ./dashboards",
				f.Name, firstDiff(got, f.JSON))
		}
	}
	onDisk, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range onDisk {
		if !slices.Contains(want, name) {
			t.Errorf("%s is not generated any more; delete it", name)
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestDashboardStructure checks what Grafana and a reader rely on: unique
// uids, a query in every panel, unique refIds, and variables defined before
// they are used.
func TestDashboardStructure(t *testing.T) {
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	uids := map[string]bool{}
	for _, f := range files {
		if uids[f.UID] {
			t.Errorf("duplicate uid %s", f.UID)
		}
		uids[f.UID] = true
		panels, err := Panels(f.JSON)
		if err != nil {
			t.Fatal(err)
		}
		if len(panels) < 4 {
			t.Errorf("%s: only %d panels", f.UID, len(panels))
		}
		for title, n := range panels {
			if n == 0 {
				t.Errorf("%s: panel %q has no query", f.UID, title)
			}
		}
		qs, vs, err := Parse(f.JSON)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) == 0 || vs[0].Name != "datasource" || vs[0].Type != "datasource" {
			t.Errorf("%s: first variable must be the datasource, got %+v", f.UID, vs)
		}
		defined := map[string]bool{}
		for _, v := range vs {
			for _, used := range variableRE.FindAllStringSubmatch(v.Query, -1) {
				if !defined[used[1]] {
					t.Errorf("%s: variable %s uses $%s before it is defined", f.UID, v.Name, used[1])
				}
			}
			defined[v.Name] = true
		}
		refs := map[string]bool{}
		for _, q := range qs {
			key := q.Panel + "/" + q.RefID
			if refs[key] {
				t.Errorf("%s: panel %q has refId %s twice", f.UID, q.Panel, q.RefID)
			}
			refs[key] = true
			for _, used := range variableRE.FindAllStringSubmatch(q.Expr, -1) {
				if !defined[used[1]] && !strings.HasPrefix(used[1], "__") {
					t.Errorf("%s: panel %q uses undefined variable $%s", f.UID, q.Panel, used[1])
				}
			}
		}
	}
	for _, uid := range []string{uidFleet, uidNode, uidJob, uidActuator} {
		if !uids[uid] {
			t.Errorf("dashboard %s missing", uid)
		}
	}
}

// TestQueriesParse expands every query as Grafana would and parses it with
// Prometheus's own parser; recording-rule names must exist in rules/.
func TestQueriesParse(t *testing.T) {
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	recorded := recordedNames(t)
	p := parser.NewParser(parser.Options{})
	vars := map[string]string{"node_pool": "default", "node": "n1", "namespace": "default", "job": "web",
		"task_group": "app", "target": "cpu", "horizon": "1h"}
	for _, f := range files {
		qs, _, err := Parse(f.JSON)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			expr := Expand(q.Expr, vars, 6*time.Hour, time.Minute, 15*time.Second)
			ast, err := p.ParseExpr(expr)
			if err != nil {
				t.Errorf("%s: panel %q %s: %q: %v", f.UID, q.Panel, q.RefID, expr, err)
				continue
			}
			parser.Inspect(ast, func(n parser.Node, _ []parser.Node) error {
				if vs, ok := n.(*parser.VectorSelector); ok && strings.Contains(vs.Name, ":") && !recorded[vs.Name] {
					t.Errorf("%s: panel %q reads %s, which no rule in rules/ records", f.UID, q.Panel, vs.Name)
				}
				return nil
			})
		}
	}
}

func recordedNames(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("../rules/*.rules.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files in ../rules: %v", err)
	}
	out := map[string]bool{}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var rf struct {
			Groups []struct {
				Rules []struct {
					Record string `yaml:"record"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(b, &rf); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					out[r.Record] = true
				}
			}
		}
	}
	return out
}

func TestExpand(t *testing.T) {
	cases := []struct{ in, want string }{
		{`rate(x[$__rate_interval])`, `rate(x[75s])`},
		{`increase(x[$__range])`, `increase(x[21600s])`},
		{`x{node_id="$node"} offset ${horizon}`, `x{node_id="n1"} offset 1h`},
		{`x{a="$unknown"}`, `x{a="$unknown"}`},
	}
	for _, c := range cases {
		got := Expand(c.in, map[string]string{"node": "n1", "horizon": "1h"}, 6*time.Hour, time.Minute, 15*time.Second)
		if got != c.want {
			t.Errorf("Expand(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if sel, label, ok := LabelValues(`label_values(nomad_client_allocated_cpu{node_pool=~"$node_pool"}, node_id)`); !ok ||
		sel != `nomad_client_allocated_cpu{node_pool=~"$node_pool"}` || label != "node_id" {
		t.Errorf("LabelValues: %q %q %v", sel, label, ok)
	}
}
