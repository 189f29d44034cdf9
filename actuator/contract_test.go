package actuator

import (
	"testing"

	"github.com/fleetcast/fleetcast/internal/testenv"
)

// TestExamplePoliciesCoverTheRules checks the contract with rules/: every
// alert that carries an action label finds a policy in examples/actuator.yml
// for that action.
func TestExamplePoliciesCoverTheRules(t *testing.T) {
	alerts := testenv.AlertRules(t, "../rules/fleetcast-alerts.rules.yml")
	cfg, err := LoadConfig("../examples/actuator.yml")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, r := range alerts {
		action := r.Labels["action"]
		if r.Alert == "" || action == "" {
			continue
		}
		seen++
		labels := map[string]string{"alertname": r.Alert, "resource": "cpu"}
		for k, v := range r.Labels {
			labels[k] = v
		}
		p := cfg.Policy(labels)
		if p == nil {
			t.Errorf("alert %s (action %s): no policy in examples/actuator.yml matches it", r.Alert, action)
			continue
		}
		if p.Action != action {
			t.Errorf("alert %s says action %s but policy %s does %s", r.Alert, action, p.Name, p.Action)
		}
	}
	if seen < 4 {
		t.Fatalf("only %d alerts with an action label in the rules", seen)
	}
}

// TestRulesSayTheDirection checks the direction contract with rules/: every
// alert whose action scales carries a valid direction label, and it agrees
// with what the deprecated reading of the alert's name gives, so rules from
// before the label and rules with it move capacity the same way.
func TestRulesSayTheDirection(t *testing.T) {
	seen := 0
	for _, r := range testenv.AlertRules(t, "../rules/fleetcast-alerts.rules.yml") {
		if a := r.Labels["action"]; a != ActionScaleGroup && a != ActionScalePool {
			continue
		}
		seen++
		labels := map[string]string{"alertname": r.Alert}
		for k, v := range r.Labels {
			labels[k] = v
		}
		dir, fromName, err := directionOf(labels)
		if err != nil || fromName {
			t.Errorf("alert %s (%s): label %s=%q: want %q or %q (err %v)", r.Alert, r.Labels["action"], LabelDirection, r.Labels[LabelDirection], DirectionOut, DirectionIn, err)
			continue
		}
		delete(labels, LabelDirection)
		if legacy, _, _ := directionOf(labels); legacy != dir {
			t.Errorf("alert %s: %s=%s, but its name reads %s: an actuator reading the name would move it the other way", r.Alert, LabelDirection, dir, legacy)
		}
	}
	if seen < 4 {
		t.Fatalf("only %d scale alerts in the rules", seen)
	}
}
