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
// return data. Annotation queries must run without error.
func TestDashboardQueriesReturnData(t *testing.T) {
	files, err := filepath.Glob("../dashboards/*.json")
	if err != nil || len(files) < 4 {
		t.Fatalf("dashboard JSON in ../dashboards: %v %v", files, err)
	}
	e := startFleetcastPrometheus(t)
	e.waitRulesHealthy(t)
	ctx := context.Background()
	// The fixture's history has one sample a minute: the scrape interval
	// a Grafana data source for it would be set to.
	const rng, step, scrape = 6 * time.Hour, time.Minute, fxStep

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
		vars := resolveVariables(t, e.api, filepath.Base(file), vs)
		for _, q := range qs {
			expr := dashboards.Expand(q.Expr, vars, rng, step, scrape)
			where := fmt.Sprintf("%s: panel %q %s: %s", filepath.Base(file), q.Panel, q.RefID, expr)
			if strings.Contains(expr, "$") {
				t.Errorf("%s: unexpanded variable", where)
				continue
			}
			end := time.Now()
			var v model.Value
			if q.Instant {
				v, _, _, err = e.api.Query(ctx, expr, end)
			} else {
				v, _, _, err = e.api.QueryRange(ctx, expr, promv1.Range{Start: end.Add(-rng), End: end, Step: step})
			}
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			checked++
			if q.RefID == "annotation" {
				continue
			}
			if n := resultLen(v); n == 0 {
				t.Errorf("%s: no data", where)
			}
		}
	}
	t.Logf("%d dashboard queries ran against Prometheus", checked)
	if checked < 40 {
		t.Errorf("only %d queries checked; the dashboards lost panels?", checked)
	}
}

// resolveVariables picks, for each template variable in order, the first
// value Prometheus has, as Grafana shows it on load.
func resolveVariables(t *testing.T, api promv1.API, file string, vs []dashboards.Variable) map[string]string {
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
			sel = dashboards.Expand(sel, vars, time.Hour, time.Minute, fxStep)
			res, _, _, err := api.Query(context.Background(), fmt.Sprintf("group by (%s) (%s)", label, sel), time.Now())
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
