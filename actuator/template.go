package actuator

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/prometheus/prometheus/promql/parser"
)

// A policy's queries are PromQL text/templates over the alert's labels:
// parsed and checked against the labels its alerts can carry when the
// config is loaded, rendered with the alert's labels when one arrives.

func parseQuery(field, q string) (*template.Template, error) {
	if q == "" {
		return nil, nil
	}
	t, err := template.New(field).Option("missingkey=error").Parse(q)
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid template: %w; want PromQL with labels as {{.label}}, e.g. max(fleetcast_forecast_peak{job=\"{{.job}}\"})", field, err)
	}
	return t, nil
}

// commonAlertLabels are on every fleetcast alert (rules/fleetcast-alerts.rules.yml):
// its name, the rule's own labels, and what its expression keeps.
var commonAlertLabels = []string{"alertname", "action", "severity", "resource", "window", "q"}

// alertLabels are the labels an alert of a policy's action can carry: the
// common ones, those that name the action's object and what comes with
// them, the labels the policy matches on, and its alert_labels. A query
// template may name only these (TestAlertLabelsCoverTheRules keeps the list
// in step with the rules).
func alertLabels(p *Policy) []string {
	l := append([]string{}, commonAlertLabels...)
	switch p.Action {
	case ActionScaleGroup:
		l = append(l, "namespace", "job", "task_group", LabelDirection)
	case ActionMigrate:
		l = append(l, "node_id", "node_pool", "datacenter", "node_class")
	case ActionScalePool:
		l = append(l, "node_pool", "datacenter", "node_class", LabelDirection)
	case ActionEscalate:
		l = append(l, "target", "namespace", "job", "task_group", "node_id", "node_pool")
	}
	for k := range p.Match.Labels {
		l = append(l, k)
	}
	l = append(l, p.AlertLabels...)
	slices.Sort(l)
	return slices.Compact(l)
}

// checkQuery renders a query template with every label the policy's alerts
// can carry and parses the result as PromQL, so a typo in a label name or
// in the query fails --check-config, not every alert at run time.
func checkQuery(field string, t *template.Template, p *Policy) error {
	if t == nil {
		return nil
	}
	known := alertLabels(p)
	labels := make(map[string]string, len(known))
	for _, k := range known {
		labels[k] = "placeholder"
	}
	q, err := render(t, labels)
	if err != nil {
		if m := missingKeyRE.FindStringSubmatch(err.Error()); m != nil {
			return fmt.Errorf("%s: names label %q, which %s alerts do not carry (they carry %s); if your rule adds it, list it in the policy's alert_labels",
				field, m[1], p.Action, strings.Join(known, ", "))
		}
		return fmt.Errorf("%s: %w", field, err)
	}
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(q)
	if err != nil {
		return fmt.Errorf("%s: invalid PromQL %q: %v; want an expression that returns an instant vector or a scalar", field, q, err)
	}
	if ty := expr.Type(); ty != parser.ValueTypeVector && ty != parser.ValueTypeScalar {
		return fmt.Errorf("%s: %q returns a %s; want an instant vector or a scalar", field, q, ty)
	}
	return nil
}

var missingKeyRE = regexp.MustCompile(`map has no entry for key "([^"]*)"`)

// render fills a query template with the alert's labels.
func render(t *template.Template, labels map[string]string) (string, error) {
	if t == nil {
		return "", nil
	}
	// Escape values so a label with a quote cannot change the query's shape.
	safe := make(map[string]string, len(labels))
	for k, v := range labels {
		q := strconv.Quote(v)
		safe[k] = q[1 : len(q)-1]
	}
	var b strings.Builder
	if err := t.Execute(&b, safe); err != nil {
		return "", fmt.Errorf("render %s: %w", t.Name(), err)
	}
	return b.String(), nil
}
