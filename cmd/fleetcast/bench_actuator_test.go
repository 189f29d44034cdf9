package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/fleetcast/fleetcast/actuator"
	"github.com/fleetcast/fleetcast/actuator/actuatortest"
)

// TestBenchActuatorAlertIsCurrent: the alerts `fleetcast bench actuator`
// times are planned as the shipped rules' alerts are, not through the
// deprecated read of the direction from the alert's name.
func TestBenchActuatorAlertIsCurrent(t *testing.T) {
	cfg, err := actuator.ParseConfig([]byte(benchActuatorConfig))
	if err != nil {
		t.Fatal(err)
	}
	nomad := actuatortest.NewMemNomad(nil)
	nomad.AddGroup("default", "job-0", "web", 4)
	var log bytes.Buffer
	act, err := actuator.New(actuator.Options{Config: cfg, Nomad: nomad, Forecasts: actuatortest.Forecasts{Value: 4321},
		Audit: slog.New(slog.NewJSONHandler(io.Discard, nil)), Log: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer act.Close()
	out := act.Handle(context.Background(), actuatorBenchAlert(0, 1))
	if out.Result != actuator.ResultDryRun {
		t.Fatalf("the bench alert was not planned: %+v", out)
	}
	if strings.Contains(log.String(), "deprecated") {
		t.Fatalf("the bench alert takes a deprecated path:\n%s", log.String())
	}
}
