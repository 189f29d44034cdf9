package actuator

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestEmergencyStop(t *testing.T) {
	stop := filepath.Join(t.TempDir(), "STOP")
	r := newRig(t, func(c *Config) { c.Global.EmergencyStopFile = stop })
	if err := os.WriteFile(stop, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	al := webAlert(r.clk.Now())
	if out := r.a.Handle(context.Background(), al); out.Result != ResultStopped || len(r.nomad.scales) != 0 {
		t.Fatalf("with stop file: %+v %v", out, r.nomad.scales)
	}
	if err := os.Remove(stop); err != nil {
		t.Fatal(err)
	}
	// The stop did not mark the alert as handled: the next repeat acts.
	if out := r.a.Handle(context.Background(), al); out.Result != ResultActed {
		t.Fatalf("after removing stop file: %+v", out)
	}
}
