package actuator

import (
	"fmt"
	"strings"

	"github.com/fleetcast/fleetcast/actuator/planner"
)

// LabelDirection is the alert label that says which way a scale_group or
// scale_pool alert moves capacity: DirectionOut or DirectionIn. The rules in
// rules/ set it on every alert with one of those actions (docs/DESIGN.md,
// "The actuator's input").
const LabelDirection = "direction"

// The values of LabelDirection.
const (
	// DirectionOut adds capacity: a predicted shortage or saturation.
	DirectionOut = "out"
	// DirectionIn removes capacity: a predicted surplus. Only alerts that say
	// so scale in.
	DirectionIn = "in"
)

// scaleDirection reads the direction of a scale_group or scale_pool alert
// (directionOf). An escalation always moves out: its rung enlarges the step
// of the action that did not suffice, whatever the anomaly alert's labels
// say.
func (a *Actuator) scaleDirection(d *decision) (planner.Direction, error) {
	if d.rung != nil {
		return planner.Out, nil
	}
	dir, fromName, err := directionOf(d.alert.Labels)
	if fromName {
		a.o.Log.Warn("deprecated: scale alert without a direction label; read from its name as before, which fleetcast 0.2 will no longer do: add the label to the rule",
			"alert", clip(d.alert.Labels["alertname"], maxLabelBytes), "label", LabelDirection, "read_as", dir.String(), "valid", DirectionOut+", "+DirectionIn)
	}
	return dir, err
}

// directionOf reads an alert's direction label. A value other than
// DirectionOut or DirectionIn is an error naming the alert, the label and
// the valid values.
//
// Deprecated fallback, for the 0.1 releases only: an alert without the
// label (or with an empty one) is read as before the label existed, in
// when its name contains "Surplus" and out otherwise, and fromName says
// so; 0.2 rejects it like an invalid value.
func directionOf(labels map[string]string) (dir planner.Direction, fromName bool, err error) {
	name := labels["alertname"]
	switch v := labels[LabelDirection]; v {
	case DirectionOut:
		return planner.Out, false, nil
	case DirectionIn:
		return planner.In, false, nil
	case "":
		if strings.Contains(name, "Surplus") {
			return planner.In, true, nil
		}
		return planner.Out, true, nil
	default:
		return 0, false, fmt.Errorf("alert %s: label %s=%q is not a direction: want %q (add capacity) or %q (remove capacity)",
			clip(name, maxLabelBytes), LabelDirection, clip(v, maxLabelBytes), DirectionOut, DirectionIn)
	}
}
