package actuator

import (
	"strings"
	"testing"
	"time"
)

// TestNewRefusesANomadThatCannotCarryAnAction: a Nomad stand-in implements
// only the interfaces of the actions its config uses; a policy whose action
// it cannot carry out is refused at New and at Reload, naming the policy,
// the action and the missing interface, and the config in force stays.
func TestNewRefusesANomadThatCannotCarryAnAction(t *testing.T) {
	type groupsOnly struct{ GroupScaler }
	full, err := LoadConfig("testdata/actuator.yml")
	if err != nil {
		t.Fatal(err)
	}
	n := groupsOnly{newFakeNomad(time.Now)}
	_, err = New(Options{Config: full, Nomad: n, Forecasts: &fakeForecasts{}})
	if err == nil {
		t.Fatal("New accepted a migrate policy with a Nomad that cannot migrate")
	}
	for _, w := range []string{"policy node-migrate", "action migrate", "actuator.NodeMigrator"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	groups, err := LoadConfig("testdata/actuator.yml")
	if err != nil {
		t.Fatal(err)
	}
	var kept []Policy
	for _, p := range groups.Policies {
		if p.Action == ActionScaleGroup {
			kept = append(kept, p)
		}
	}
	groups.Policies = kept
	a, err := New(Options{Config: groups, Nomad: n, Forecasts: &fakeForecasts{}})
	if err != nil {
		t.Fatalf("scale_group policies only: %v", err)
	}
	defer a.Close()
	if err := a.Reload(full); err == nil || !strings.Contains(err.Error(), "actuator.NodeMigrator") {
		t.Fatalf("reload to a config with migrate: %v", err)
	}
	if a.Config() != groups {
		t.Fatal("a refused reload replaced the config in force")
	}
}
