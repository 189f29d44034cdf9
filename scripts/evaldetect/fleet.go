package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/fleetcast/fleetcast/detect"
	"github.com/fleetcast/fleetcast/internal/seriescsv"
)

// The fleet figure: alert events per series-day on real, unlabelled
// whole-cluster utilisation (../shared/data/cluster/full.csv: Alibaba 2018's
// CPU and memory at 1 minute, 8 days; Google 2019's CPU, memory used and
// memory assigned at 5 minutes, 28 days; about 100 series-days). Nobody
// labelled them, and they are presumably mostly normal, so what a detector
// raises there is roughly what it would page a fleet's operators with. It is
// printed, not checked: a real trace holds real events, and no label says
// which alerts are false.

// fleetEventGap is how close alerts of one series must follow each other to
// be one event: an alert more than this after the previous alert of the
// same series starts a new event, as a pager that deduplicates for 6 hours
// would count them.
const fleetEventGap = 6 * 3600

// fleetData is the unlabelled fleet traces and the series-days they span.
type fleetData struct {
	path   string
	series []seriescsv.Series
	days   float64
}

// loadFleet reads the fleet traces (series,timestamp,value).
func loadFleet(path string) (*fleetData, error) {
	ss, err := readCSV(path)
	if err != nil {
		return nil, fmt.Errorf("--fleet: %w", err)
	}
	f := &fleetData{path: path, series: ss}
	for _, s := range ss {
		if n := len(s.Times); n > 1 {
			f.days += float64(s.Times[n-1]-s.Times[0]) / 86400
		}
	}
	if !(f.days > 0) {
		return nil, fmt.Errorf("--fleet: %s: the series span no time (want series,timestamp,value rows over days)", path)
	}
	return f, nil
}

// alertEvent is a run of alerts of one series, each at most fleetEventGap
// after the previous one.
type alertEvent struct {
	first, last int64 // times of the first and last alert
	alerts      int
	max         float64 // the highest score
}

// alertEvents groups the alerts (scores above thr) of one series into
// events: an alert more than gap seconds after the previous alert starts a
// new event.
func alertEvents(times []int64, scores []float64, thr float64, gap int64) []alertEvent {
	var out []alertEvent
	for i, s := range scores {
		if !(s > thr) {
			continue
		}
		t := times[i]
		if n := len(out); n > 0 && t-out[n-1].last <= gap {
			e := &out[n-1]
			e.last, e.alerts, e.max = t, e.alerts+1, math.Max(e.max, s)
			continue
		}
		out = append(out, alertEvent{first: t, last: t, alerts: 1, max: s})
	}
	return out
}

// scores scores every fleet series with one setting.
func (f *fleetData) scores(o detect.Options) [][]float64 {
	out, _ := scoreSeries(f.series, o)
	return out
}

// eventsPerDay returns, for each threshold, the alert events per series-day
// of the given scores (f.scores).
func (f *fleetData) eventsPerDay(sc [][]float64, thr []float64) []float64 {
	out := make([]float64, len(thr))
	for k, s := range f.series {
		for j, t := range thr {
			out[j] += float64(len(alertEvents(s.Times, sc[k], t, fleetEventGap)))
		}
	}
	for j := range out {
		out[j] /= f.days
	}
	return out
}

// fleetTable prints one setting's alert events on the fleet traces at the
// threshold at: per series the events, where they fall and how high they
// score, and the events per series-day.
func fleetTable(stdout io.Writer, f *fleetData, name string, sc [][]float64, at float64) {
	fmt.Fprintf(stdout, "\nReal fleet data, unlabelled (%s, %.1f series-days; printed, not checked): %s at %.3f, alerts more than %d h apart counted as separate events.\n\n| series | alerts | events | events (first alert UTC: alerts, best score) |\n|---|---|---|---|\n",
		f.path, f.days, name, at, fleetEventGap/3600)
	total, alerts := 0, 0
	for k, s := range f.series {
		ev := alertEvents(s.Times, sc[k], at, fleetEventGap)
		n := 0
		var where []string
		for _, e := range ev {
			n += e.alerts
			where = append(where, fmt.Sprintf("%s: %d, %.2f", time.Unix(e.first, 0).UTC().Format("2006-01-02 15:04"), e.alerts, e.max))
		}
		total += len(ev)
		alerts += n
		fmt.Fprintf(stdout, "| %s | %d | %d | %s |\n", s.Name, n, len(ev), whereOr(where))
	}
	fmt.Fprintf(stdout, "| **all** | %d | %d | **%.3f events per series-day** |\n", alerts, total, float64(total)/f.days)
}

// whereOr joins the events' descriptions, or says there are none.
func whereOr(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, "; ")
}
