package dashboards

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Query is one Prometheus query of a generated dashboard, as Grafana will
// send it once template variables are expanded.
type Query struct {
	Dashboard string // uid
	Panel     string // panel title, or "annotation: <name>"
	RefID     string
	Expr      string
	Instant   bool
}

// Variable is a template variable of a generated dashboard.
type Variable struct {
	Name  string
	Type  string // datasource, query, custom
	Query string // label_values(...) for query variables, comma-separated values for custom ones
}

// dashboardJSON is the part of Grafana's dashboard model the checks read.
type dashboardJSON struct {
	UID    string      `json:"uid"`
	Panels []panelJSON `json:"panels"`
	Annot  struct {
		List []struct {
			Name string `json:"name"`
			Expr string `json:"expr"`
		} `json:"list"`
	} `json:"annotations"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panelJSON struct {
	Type    string      `json:"type"`
	Title   string      `json:"title"`
	Panels  []panelJSON `json:"panels"`
	Targets []struct {
		RefID   string `json:"refId"`
		Expr    string `json:"expr"`
		Instant bool   `json:"instant"`
	} `json:"targets"`
}

// Parse reads the queries and variables of a dashboard JSON file, so tests
// check exactly what a user imports.
func Parse(b []byte) ([]Query, []Variable, error) {
	var d dashboardJSON
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, nil, fmt.Errorf("decode dashboard JSON: %w", err)
	}
	var qs []Query
	var walk func([]panelJSON)
	walk = func(ps []panelJSON) {
		for _, p := range ps {
			walk(p.Panels)
			for _, t := range p.Targets {
				qs = append(qs, Query{Dashboard: d.UID, Panel: p.Title, RefID: t.RefID, Expr: t.Expr, Instant: t.Instant})
			}
		}
	}
	walk(d.Panels)
	for _, a := range d.Annot.List {
		if a.Expr != "" {
			qs = append(qs, Query{Dashboard: d.UID, Panel: "annotation: " + a.Name, RefID: "annotation", Expr: a.Expr})
		}
	}
	vs := make([]Variable, 0, len(d.Templating.List))
	for _, v := range d.Templating.List {
		var query string
		if len(v.Query) > 0 && v.Query[0] == '"' {
			if err := json.Unmarshal(v.Query, &query); err != nil {
				return nil, nil, fmt.Errorf("variable %s: query: %w", v.Name, err)
			}
		}
		vs = append(vs, Variable{Name: v.Name, Type: v.Type, Query: query})
	}
	return qs, vs, nil
}

// Panels returns the titles of the panels that are not rows, and whether
// each has at least one query.
func Panels(b []byte) (map[string]int, error) {
	var d dashboardJSON
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("decode dashboard JSON: %w", err)
	}
	out := map[string]int{}
	var walk func([]panelJSON)
	walk = func(ps []panelJSON) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type != "row" {
				out[p.Title] += len(p.Targets)
			}
		}
	}
	walk(d.Panels)
	return out, nil
}

var (
	labelValuesRE = regexp.MustCompile(`^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)
	variableRE    = regexp.MustCompile(`\$\{?([a-zA-Z_][a-zA-Z0-9_]*)\}?`)
)

// LabelValues splits a label_values(selector, label) variable query.
func LabelValues(query string) (selector, label string, ok bool) {
	m := labelValuesRE.FindStringSubmatch(strings.TrimSpace(query))
	if m == nil {
		return "", "", false
	}
	return strings.TrimSpace(m[1]), m[2], true
}

// Expand replaces template variables and Grafana's built-in interval macros
// in expr as Grafana would for a dashboard range rng, a query step and the
// data source's scrape interval. Unknown variables are left in place, so a
// parse error points at them.
func Expand(expr string, vars map[string]string, rng, step, scrape time.Duration) string {
	builtin := map[string]string{
		// As Grafana computes it: max(interval + scrape interval, 4 x scrape interval).
		"__rate_interval": promDuration(max(step+scrape, 4*scrape)),
		"__interval":      promDuration(step),
		"__range":         promDuration(rng),
		"__range_s":       fmt.Sprint(int64(rng.Seconds())),
	}
	return variableRE.ReplaceAllStringFunc(expr, func(m string) string {
		name := variableRE.FindStringSubmatch(m)[1]
		if v, ok := builtin[name]; ok {
			return v
		}
		if v, ok := vars[name]; ok {
			return v
		}
		return m
	})
}

// promDuration writes d in seconds, a form every PromQL version parses.
func promDuration(d time.Duration) string {
	return fmt.Sprintf("%ds", int64(d.Seconds()))
}
