package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fleetcast/fleetcast/internal/testenv"
)

// actuatorActions are the values of the action label the actuator acts on
// (docs/DESIGN.md, "The actuator's input").
var actuatorActions = []string{"scale_group", "migrate", "scale_pool", "escalate"}

// TestAlertRoutingReachesActuatorAndPeople asks the real amtool where
// examples/alertmanager.yml sends each alert of the rule files, with the
// alert's own static labels: an alert with an action label must reach the
// actuator and people, every other alert people.
func TestAlertRoutingReachesActuatorAndPeople(t *testing.T) {
	amtool := testenv.RequireBinary(t, "amtool")
	root := repoRoot(t)
	cfg := filepath.Join(root, "examples", "alertmanager.yml")
	if out, err := exec.Command(amtool, "check-config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("amtool check-config %s: %v\n%s", cfg, err, out)
	}
	files, err := filepath.Glob(filepath.Join(root, "rules", "*.rules.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("rule files in rules/: %v %v", files, err)
	}
	runbooks, err := os.ReadFile(filepath.Join(root, "rules", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	checked, acting := 0, 0
	for _, r := range testenv.AlertRules(t, files...) {
		// The dashboards' alert tables link to this anchor.
		if !strings.Contains(string(runbooks), `<a id="`+r.Alert+`"></a>`) {
			t.Errorf("rules/README.md has no runbook anchor <a id=%q></a>", r.Alert)
		}
		args := []string{"config", "routes", "test", "--config.file=" + cfg}
		want := "people"
		if a, ok := r.Labels["action"]; ok {
			if !slices.Contains(actuatorActions, a) {
				t.Errorf("%s: alert %s: action %q is none of %v", filepath.Base(r.File), r.Alert, a, actuatorActions)
			}
			// Alerts that scale say which way (docs/DESIGN.md): Alertmanager
			// passes the label through to the actuator unchanged.
			if d := r.Labels["direction"]; (a == "scale_group" || a == "scale_pool") && d != "out" && d != "in" {
				t.Errorf("%s: alert %s: action %s needs label direction \"out\" or \"in\", has %q", filepath.Base(r.File), r.Alert, a, d)
			}
			want = "fleetcast-actuator,people"
			acting++
		}
		args = append(args, "--verify.receivers="+want, "alertname="+r.Alert)
		for k, v := range r.Labels {
			if !strings.Contains(v, "{{") {
				args = append(args, k+"="+v)
			}
		}
		out, err := exec.Command(amtool, args...).Output()
		checked++
		if err != nil {
			t.Errorf("%s: alert %s %v: routed to %q; want %s", filepath.Base(r.File), r.Alert, r.Labels,
				strings.TrimSpace(firstLine(string(out))), want)
		}
	}
	t.Logf("%d alerts routed, %d of them to the actuator and people", checked, acting)
	if acting < len(actuatorActions) || checked <= acting {
		t.Errorf("%d alerts, %d with an action label: the rule files lost alerts?", checked, acting)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
