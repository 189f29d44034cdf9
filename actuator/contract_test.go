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
