package actuator

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestScaleDirectionLabel: the direction label, not the alert's name,
// decides which way a scale alert moves capacity; a bad value is refused
// before Nomad is asked anything; a missing one is read from the name, as
// before the label existed, with a deprecation warning (0.1 only).
func TestScaleDirectionLabel(t *testing.T) {
	group := func(dir string) map[string]string {
		l := map[string]string{"action": "scale_group", "namespace": "default", "job": "web", "task_group": "app"}
		if dir != "-" {
			l[LabelDirection] = dir
		}
		return l
	}
	cases := []struct {
		name, alert, dir string
		forecast         float64
		result           string
		code             int
		scales           string   // the scale calls Nomad saw
		detail, warning  []string // what the outcome's detail and the log must say
	}{
		{"out scales out", "JobPredictedSaturation", "out", 600, ResultActed, 200, "default/web/app=8", nil, nil},
		{"in scales in", "JobPredictedSurplus", "in", 250, ResultActed, 200, "default/web/app=3", nil, nil},
		// The names would say the opposite: the label wins.
		{"out on a surplus name scales out", "JobPredictedSurplus", "out", 600, ResultActed, 200, "default/web/app=6", nil, nil},
		{"in on a saturation name scales in", "JobPredictedSaturation", "in", 250, ResultActed, 200, "default/web/app=3", nil, nil},
		{"a bad value is refused", "JobPredictedSaturation", "up", 600, ResultRejected, 422, "",
			[]string{"JobPredictedSaturation", `direction="up"`, `"out"`, `"in"`}, nil},
		{"a bad value is refused even when the name would do", "JobPredictedSurplus", "IN", 250, ResultRejected, 422, "",
			[]string{"JobPredictedSurplus", `direction="IN"`}, nil},
		{"missing: read from a surplus name, with a warning", "JobPredictedSurplus", "-", 250, ResultActed, 200, "default/web/app=3",
			nil, []string{"deprecated", "alert=JobPredictedSurplus", "label=direction", "read_as=in"}},
		{"empty: read from a saturation name, with a warning", "JobPredictedSaturation", "", 600, ResultActed, 200, "default/web/app=8",
			nil, []string{"deprecated", "alert=JobPredictedSaturation", "label=direction", "read_as=out"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, nil)
			var logs bytes.Buffer
			r.a.o.Log = slog.New(slog.NewTextHandler(&logs, nil))
			r.fc.v[webQ] = []Sample{{Value: c.forecast}}
			out := r.a.Handle(context.Background(), alert(c.alert, group(c.dir), r.clk.Now()))
			if got := strings.Join(r.nomad.scales, ","); out.Result != c.result || out.Code != c.code || got != c.scales {
				t.Fatalf("got %+v with scales %q; want %s/%d with scales %q", out, got, c.result, c.code, c.scales)
			}
			for _, w := range c.detail {
				if !strings.Contains(out.Detail, w) {
					t.Errorf("detail %q does not say %s", out.Detail, w)
				}
			}
			for _, w := range c.warning {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("log %q does not say %s", logs.String(), w)
				}
			}
			if c.warning == nil && strings.Contains(logs.String(), "deprecated") {
				t.Errorf("deprecation warning for an alert with a direction: %s", logs.String())
			}
		})
	}
}

// TestScalePoolDirectionLabel: a scale_pool alert reads the label too.
func TestScalePoolDirectionLabel(t *testing.T) {
	r := newRig(t, nil)
	out := r.a.Handle(context.Background(), alert("FleetPredictedShortage", map[string]string{"action": "scale_pool", "direction": "sideways", "node_pool": "batch"}, r.clk.Now()))
	if out.Result != ResultRejected || out.Code != 422 || !strings.Contains(out.Detail, `direction="sideways"`) || len(r.pool.calls) != 0 {
		t.Fatalf("bad direction on a pool alert: %+v, pool calls %v", out, r.pool.calls)
	}
}

// TestEscalationMovesOutWhateverTheLabel: an escalation enlarges a step
// out; a direction label on the anomaly alert does not turn it around.
func TestEscalationMovesOutWhateverTheLabel(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	r.fc.v[webQ] = []Sample{{Value: 5000}}
	if out := r.a.Handle(ctx, webAlert(r.clk.Now())); out.Result != ResultActed {
		t.Fatal(out)
	}
	r.clk.Add(6 * time.Minute)
	al := alert("AnomalyDespiteAction", map[string]string{"action": "escalate", "direction": "in", "namespace": "default", "job": "web", "task_group": "app"}, r.clk.Now())
	if out := r.a.Handle(ctx, al); out.Result != ResultActed {
		t.Fatalf("escalation: %+v", out)
	}
	if got := strings.Join(r.nomad.scales, ","); got != "default/web/app=9,default/web/app=17" {
		t.Fatalf("scales %s, want 9 then the escalated step out to 17", got)
	}
}
