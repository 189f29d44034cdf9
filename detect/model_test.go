package detect

import "testing"

// TestDetectLearnsStepAndSeason: with the step learnt from the data, the
// daily profile takes over from the level alone once a day has been seen.
func TestDetectLearnsStepAndSeason(t *testing.T) {
	ts, vs := detectSeasonal(5, 2)
	for i, t := range ts {
		if t%3600 < detectTestStep && t%86400/3600%4 == 0 { // a job every four hours
			vs[i] += 20
		}
	}
	d := New(Options{})
	for i := range ts {
		d.Observe(ts[i], vs[i])
	}
	if d.Step() != detectTestStep {
		t.Fatalf("step %d, want %d", d.Step(), detectTestStep)
	}
	m, _, ok := d.best(ts[len(ts)-1] + detectTestStep)
	if !ok || m.period != 86400 {
		t.Fatalf("model in use has period %d, want the daily profile", m.period)
	}
	// Configured without seasons, the level model is the only one.
	d = New(Options{Seasons: []int64{}})
	for i := range ts {
		d.Observe(ts[i], vs[i])
	}
	if len(d.models) != 1 {
		t.Fatalf("%d models with seasonality disabled", len(d.models))
	}
}
