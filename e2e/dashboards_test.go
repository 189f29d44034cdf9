package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/fleetcast/fleetcast/dashboards"
)

// TestDashboardQueriesReturnData runs every query of every committed
// dashboard, as Grafana would send it (template variables resolved from the
// data, $__rate_interval and friends expanded), against a real Prometheus
// that scrapes the fleet fixture and evaluates the rules: each must parse and
// return data. Annotation queries must run without error. TestDemoClosedLoop
// runs the same check on the demo's Prometheus, fed by the example configs.
func TestDashboardQueriesReturnData(t *testing.T) {
	e := startFleetcastPrometheus(t)
	e.waitRulesHealthy(t)
	// The fixture's history has one sample a minute: the scrape interval
	// a Grafana data source for it would be set to.
	checkDashboards(t, e.api, time.Now(), 6*time.Hour, time.Minute, fxStep, nil)
}

// scrapeJobs are the Prometheus job names of examples/prometheus.yml: a
// dashboard variable meant to pick a Nomad job must never resolve to one.
var scrapeJobs = []string{"fleetcast-exporter", "fleetcast-actuator", "nomad", "node"}

// checkDashboards resolves every variable of every committed dashboard to
// its first value at end, as Grafana does on load, runs every panel query
// over (end-rng, end] at step (scrape is the data source's scrape interval,
// for $__rate_interval) and fails on a query that errs. With emptyOK nil,
// every query outside annotations must return data; otherwise every panel
// must show data from at least one of its queries, except the panels
// emptyOK names (title, or "file.json: title" for one dashboard's: why it
// may be empty there).
func checkDashboards(t *testing.T, api promv1.API, end time.Time, rng, step, scrape time.Duration, emptyOK map[string]string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "dashboards", "*.json"))
	if err != nil || len(files) < 4 {
		t.Fatalf("dashboard JSON in dashboards/: %v %v", files, err)
	}
	ctx := context.Background()
	checked := 0
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		qs, vs, err := dashboards.Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		vars := resolveVariables(t, api, filepath.Base(file), vs, end, scrape)
		panelData := map[string]bool{}
		var panels []string
		if j, ok := vars["job"]; ok && slices.Contains(scrapeJobs, j) {
			t.Errorf("%s: variable job resolves to %q, a Prometheus scrape job, not a Nomad job", filepath.Base(file), j)
		}
		for _, q := range qs {
			expr := dashboards.Expand(q.Expr, vars, rng, step, scrape)
			where := fmt.Sprintf("%s: panel %q %s: %s", filepath.Base(file), q.Panel, q.RefID, expr)
			if strings.Contains(expr, "$") {
				t.Errorf("%s: unexpanded variable", where)
				continue
			}
			var v model.Value
			if q.Instant {
				v, _, _, err = api.Query(ctx, expr, end)
			} else {
				v, _, _, err = api.QueryRange(ctx, expr, promv1.Range{Start: end.Add(-rng), End: end, Step: step})
			}
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			checked++
			if q.RefID == "annotation" {
				continue
			}
			if _, seen := panelData[q.Panel]; !seen {
				panels = append(panels, q.Panel)
			}
			n := resultLen(v)
			panelData[q.Panel] = panelData[q.Panel] || n > 0
			if n == 0 && emptyOK == nil {
				t.Errorf("%s: no data", where)
			}
		}
		for _, p := range panels {
			if _, ok := emptyOK[p]; ok || emptyOK == nil || panelData[p] {
				continue
			}
			if _, ok := emptyOK[filepath.Base(file)+": "+p]; ok {
				continue
			}
			t.Errorf("%s: panel %q: none of its queries returned data (variables %v)", filepath.Base(file), p, vars)
		}
	}
	t.Logf("%d dashboard queries ran against Prometheus", checked)
	if checked < 40 {
		t.Errorf("only %d queries checked; the dashboards lost panels?", checked)
	}
}

// resolveVariables picks, for each template variable in order, the first
// value Prometheus has, as Grafana shows it on load.
func resolveVariables(t *testing.T, api promv1.API, file string, vs []dashboards.Variable, at time.Time, scrape time.Duration) map[string]string {
	t.Helper()
	vars := map[string]string{}
	for _, v := range vs {
		switch v.Type {
		case "datasource":
			continue
		case "custom":
			values := strings.Split(v.Query, ",")
			vars[v.Name] = strings.TrimSpace(values[0])
			if slices.Contains(values, "1h") {
				vars[v.Name] = "1h"
			}
		case "query":
			sel, label, ok := dashboards.LabelValues(v.Query)
			if !ok {
				t.Fatalf("%s: variable %s: query %q is not label_values(selector, label)", file, v.Name, v.Query)
			}
			sel = dashboards.Expand(sel, vars, time.Hour, time.Minute, scrape)
			res, _, _, err := api.Query(context.Background(), fmt.Sprintf("group by (%s) (%s)", label, sel), at)
			if err != nil {
				t.Fatalf("%s: variable %s: %v", file, v.Name, err)
			}
			var values []string
			for _, s := range res.(model.Vector) {
				if val := string(s.Metric[model.LabelName(label)]); val != "" {
					values = append(values, val)
				}
			}
			if len(values) == 0 {
				t.Fatalf("%s: variable %s (%s) has no values", file, v.Name, sel)
			}
			slices.Sort(values)
			vars[v.Name] = values[0]
		default:
			t.Fatalf("%s: variable %s of unexpected type %q", file, v.Name, v.Type)
		}
	}
	t.Logf("%s: variables %v", file, vars)
	return vars
}

func resultLen(v model.Value) int {
	switch r := v.(type) {
	case model.Vector:
		return len(r)
	case model.Matrix:
		n := 0
		for _, s := range r {
			n += len(s.Values)
		}
		return n
	case *model.Scalar:
		return 1
	}
	return 0
}
