package exporter

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/fleetcast/fleetcast/forecast"
)

// validateSchedule checks the target's step, history, refresh and refit,
// filling in their defaults; tp is the target's field path.
func (t *TargetConfig) validateSchedule(tp string) error {
	if t.Step == 0 {
		t.Step = defaultStep
	}
	if t.Step < model.Duration(time.Second) {
		return fieldErr(tp+".step", "%s; want at least 1s, e.g. 5m", t.Step)
	}
	step := time.Duration(t.Step)
	if t.History == 0 {
		t.History = defaultHistory
	}
	if t.History < 3*t.Step {
		return fieldErr(tp+".history", "%s; want at least three steps (3 × %s), e.g. 14d", t.History, t.Step)
	}
	if time.Duration(t.History)/step > 100*maxStepsPerSeries {
		return fieldErr(tp+".history", "%s is %d steps of %s; want at most %d steps", t.History, time.Duration(t.History)/step, t.Step, 100*maxStepsPerSeries)
	}
	if t.Refresh == 0 {
		t.Refresh = t.Step
	}
	if t.Refresh < model.Duration(time.Second) {
		return fieldErr(tp+".refresh", "%s; want at least 1s", t.Refresh)
	}
	if t.Refit == 0 {
		t.Refit = t.Refresh
	}
	if t.Refit < t.Refresh || time.Duration(t.Refit)%step != 0 && t.Refit != t.Refresh {
		return fieldErr(tp+".refit", "%s; want a multiple of step %s, at least refresh %s", t.Refit, t.Step, t.Refresh)
	}
	if t.Refit > t.History {
		return fieldErr(tp+".refit", "%s is longer than history %s; want at most the history", t.Refit, t.History)
	}
	return nil
}

// validateOutputs checks the horizons, peak windows and quantiles the
// target publishes, filling in their defaults.
func (t *TargetConfig) validateOutputs(tp string) error {
	step := time.Duration(t.Step)
	if len(t.Horizons) == 0 {
		t.Horizons = slices.Clone(defaultHorizons)
	}
	if len(t.Quantiles) == 0 {
		t.Quantiles = slices.Clone(defaultQuantiles)
	}
	if t.PeakWindows == nil {
		t.PeakWindows = slices.Clone(defaultPeakWindows)
	}
	checkSteps := func(field string, ds []model.Duration) error {
		seen := map[model.Duration]bool{}
		for i, d := range ds {
			fp := fmt.Sprintf("%s.%s[%d]", tp, field, i)
			if d <= 0 {
				return fieldErr(fp, "%s; want a positive multiple of step %s", d, t.Step)
			}
			if time.Duration(d)%step != 0 {
				return fieldErr(fp, "%s is not a multiple of step %s", d, t.Step)
			}
			if time.Duration(d)/step > maxForecastSteps {
				return fieldErr(fp, "%s is %d steps; want at most %d steps of %s", d, time.Duration(d)/step, maxForecastSteps, t.Step)
			}
			if seen[d] {
				return fieldErr(fp, "%s is listed twice; list each once", d)
			}
			seen[d] = true
		}
		return nil
	}
	if err := checkSteps("horizons", t.Horizons); err != nil {
		return err
	}
	if err := checkSteps("peak_windows", t.PeakWindows); err != nil {
		return err
	}
	for i, q := range t.Quantiles {
		if !(q > 0 && q < 1) {
			return fieldErr(fmt.Sprintf("%s.quantiles[%d]", tp, i), "%g; want a probability strictly between 0 and 1, e.g. 0.9", q)
		}
		if slices.Index(t.Quantiles, q) != i {
			return fieldErr(fmt.Sprintf("%s.quantiles[%d]", tp, i), "%g is listed twice; list each once", q)
		}
	}
	return nil
}

// validateModel checks the model, the bounds and the seasons.
func (t *TargetConfig) validateModel(tp string) error {
	step := time.Duration(t.Step)
	if t.Model != "" && t.Model != "auto" && !slices.Contains(forecast.Models(), t.Model) {
		return fieldErr(tp+".model", "%q; valid are auto, %s", t.Model, strings.Join(forecast.Models(), ", "))
	}
	if t.Min != nil && (math.IsNaN(*t.Min) || math.IsInf(*t.Min, 1)) {
		return fieldErr(tp+".min", "%g; want a number such as 0 (or -.inf for no lower bound)", *t.Min)
	}
	if t.Max != nil && (math.IsNaN(*t.Max) || math.IsInf(*t.Max, -1)) {
		return fieldErr(tp+".max", "%g; want a number such as 100 (or omit it for no upper bound)", *t.Max)
	}
	if t.Min != nil && t.Max != nil && !(*t.Min < *t.Max) {
		return fieldErr(tp+".max", "%g is not above min %g", *t.Max, *t.Min)
	}
	for i, s := range t.Seasonality {
		if s <= 0 || time.Duration(s)%step != 0 {
			return fieldErr(fmt.Sprintf("%s.seasonality[%d]", tp, i), "%s; want a positive multiple of step %s, e.g. 1d or 1w", s, t.Step)
		}
		if s > t.History {
			return fieldErr(fmt.Sprintf("%s.seasonality[%d]", tp, i), "%s is longer than history %s; the model could not see one period", s, t.History)
		}
	}
	return nil
}

// validateKnownFuture checks the regressors and the scheduled demand;
// haveNomad says whether the config has a nomad section to read jobs from.
func (t *TargetConfig) validateKnownFuture(tp string, haveNomad bool) error {
	rnames := map[string]bool{}
	for i, r := range t.Regressors {
		rp := fmt.Sprintf("%s.regressors[%d]", tp, i)
		if r.Name == "" || !validLabelName(r.Name) {
			return fieldErr(rp+".name", "%q; want a name of letters, digits and _", r.Name)
		}
		if rnames[r.Name] {
			return fieldErr(rp+".name", "%q is used twice in this target; give each regressor its own name", r.Name)
		}
		rnames[r.Name] = true
		if err := checkPromQL(r.Query); err != nil {
			return fieldErr(rp+".query", "%v", err)
		}
	}
	if sd := t.ScheduledDemand; sd != nil {
		if sd.Resource != "cpu" && sd.Resource != "memory" {
			return fieldErr(tp+".scheduled_demand.resource", "%q; valid are cpu (MHz) and memory (bytes)", sd.Resource)
		}
		if sd.Scale == 0 {
			sd.Scale = 1
		}
		if sd.Scale < 0 {
			return fieldErr(tp+".scheduled_demand.scale", "%g; want a positive factor", sd.Scale)
		}
		if sd.JobLabel != "" && !validLabelName(sd.JobLabel) {
			return fieldErr(tp+".scheduled_demand.job_label", "%q is not a valid label name; %s", sd.JobLabel, labelNameRule)
		}
		if !haveNomad {
			return fieldErr(tp+".scheduled_demand", "set, but there is no nomad section to read periodic jobs from; add one (nomad.address) or remove scheduled_demand")
		}
	}
	return nil
}
