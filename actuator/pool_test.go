package actuator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

func TestScalePool(t *testing.T) {
	r := newRig(t, nil)
	for _, id := range []string{"p1", "p2", "p3"} {
		r.nomad.nodes[id] = &api.Node{ID: id, NodePool: "batch", Status: "ready", SchedulingEligibility: "eligible"}
	}
	q := `sum(fleetcast_forecast_peak{node_pool="batch"})`
	r.fc.v[q] = []Sample{{Value: 4500}}
	out := r.a.Handle(context.Background(), alert("FleetPredictedShortage", map[string]string{"action": "scale_pool", "direction": "out", "node_pool": "batch"}, r.clk.Now()))
	if out.Result != ResultActed || strings.Join(r.pool.calls, ";") != "batch 3->5 []" {
		t.Fatalf("scale out: %+v %v", out, r.pool.calls)
	}
	r.clk.Add(2 * time.Hour)
	r.fc.v[q] = []Sample{{Value: 900}}
	out = r.a.Handle(context.Background(), alert("FleetPredictedSurplus", map[string]string{"action": "scale_pool", "direction": "in", "node_pool": "batch"}, r.clk.Now()))
	if out.Result != ResultActed {
		t.Fatalf("scale in: %+v", out)
	}
	r.a.Wait()
	if len(r.nomad.drained) != 2 || len(r.pool.calls) != 2 || !strings.HasPrefix(r.pool.calls[1], "batch 3->1 [") {
		t.Fatalf("drained %v, calls %v", r.nomad.drained, r.pool.calls)
	}
}

func TestCommandPoolTarget(t *testing.T) {
	out := filepath.Join(t.TempDir(), "env")
	c := &CommandPool{Argv: []string{"/bin/sh", "-c", `echo "$FLEETCAST_POOL $FLEETCAST_CURRENT $FLEETCAST_DESIRED $FLEETCAST_REMOVE $FLEETCAST_REASON" > ` + out}, Timeout: 10 * time.Second}
	if err := c.SetSize(context.Background(), "batch", 3, 1, []string{"n1", "n2"}, "surplus"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != "batch 3 1 n1,n2 surplus" {
		t.Fatalf("command saw %q", got)
	}
	fail := &CommandPool{Argv: []string{"/bin/sh", "-c", "echo quota exceeded >&2; exit 3"}, Timeout: 10 * time.Second}
	err = fail.SetSize(context.Background(), "batch", 1, 2, nil, "shortage")
	var ne *NomadError
	if err == nil || !strings.Contains(err.Error(), "quota exceeded") || !errors.As(err, &ne) || !ne.Retryable() {
		t.Fatalf("failing command: %v", err)
	}
}

// TestPoolPersistingFiringTakesSeveralSteps: a node-pool shortage that
// max_step holds short takes its next step after the cooldown, under the
// same firing, and the pool's state variable records the held step.
func TestPoolPersistingFiringTakesSeveralSteps(t *testing.T) {
	r := newRig(t, nil)
	for _, id := range []string{"p1", "p2", "p3"} {
		r.nomad.nodes[id] = &api.Node{ID: id, NodePool: "batch", Status: "ready", SchedulingEligibility: "eligible"}
	}
	r.fc.v[`sum(fleetcast_forecast_peak{node_pool="batch"})`] = []Sample{{Value: 6500}} // wants 7 nodes
	al := alert("FleetPredictedShortage", map[string]string{"action": "scale_pool", "direction": "out", "node_pool": "batch"}, r.clk.Now())
	ctx := context.Background()
	var got []string
	for i := 0; i < 3; i++ {
		got = append(got, r.a.Handle(ctx, al).Result, r.a.Handle(ctx, al).Result)
		// The target booted what was asked for.
		for n := len(r.nomad.nodes); n < 3+2*(i+1) && n < 7; n++ {
			id := fmt.Sprintf("p%d", n+1)
			r.nomad.nodes[id] = &api.Node{ID: id, NodePool: "batch", Status: "ready", SchedulingEligibility: "eligible"}
		}
		r.clk.Add(11 * time.Minute)
	}
	if s := strings.Join(got, " "); s != "acted cooldown acted duplicate duplicate duplicate" {
		t.Fatalf("one persisting pool firing: %s (calls %v)", s, r.pool.calls)
	}
	if strings.Join(r.pool.calls, ";") != "batch 3->5 [];batch 5->7 []" {
		t.Fatalf("calls %v", r.pool.calls)
	}
}
