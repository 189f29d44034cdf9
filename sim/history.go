package sim

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// WriteHistory advances the fleet from `from` to `to` and writes the metrics
// it would have exposed every step, as OpenMetrics text with timestamps, for
// `promtool tsdb create-blocks-from openmetrics`. The fleet is left at `to`,
// so the history and what follows are one process: create the fleet at
// `from` (e.g. now minus 14 days), write the history, then Run it.
func (f *Fleet) WriteHistory(w io.Writer, from, to time.Time, step time.Duration) error {
	return f.WriteHistoryAs(w, from, to, step, ScrapeTarget{})
}

// ScrapeTarget names the Prometheus scrape job and instance the history
// should look as if it had been scraped by.
type ScrapeTarget struct {
	Job, Instance string
}

// WriteHistoryAs writes the history as WriteHistory does, but labelled as
// Prometheus stores what it scrapes from target with honor_labels false:
// the metrics' own job and instance labels become exported_job and
// exported_instance, and job and instance name the target. Backfilled
// history then joins the live series without a seam.
func (f *Fleet) WriteHistoryAs(w io.Writer, from, to time.Time, step time.Duration, target ScrapeTarget) error {
	return f.WriteHistoryWith(w, from, to, step, HistoryOptions{Target: target})
}

// HistoryOptions refine WriteHistoryWith.
type HistoryOptions struct {
	// Target labels the history as scraped (see WriteHistoryAs).
	Target ScrapeTarget
	// Metrics, if set, keeps only the metric families whose name it
	// matches: promtool's backfill time grows with the file's size times
	// the number of two-hour blocks, so a long history is best kept lean.
	Metrics *regexp.Regexp
}

// WriteHistoryWith writes the history as WriteHistory does, with options.
func (f *Fleet) WriteHistoryWith(w io.Writer, from, to time.Time, step time.Duration, o HistoryOptions) error {
	target := o.Target
	if step <= 0 {
		return fmt.Errorf("history step %s: must be positive", step)
	}
	if to.Before(from) {
		return fmt.Errorf("history from %s to %s: the end is before the start", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if from.Before(f.now) {
		return fmt.Errorf("history from %s: the fleet is already at %s; create it at or before the history's start",
			from.Format(time.RFC3339), f.now.Format(time.RFC3339))
	}
	fams := f.fams
	type point struct {
		t int64
		v float64
	}
	type series struct {
		fam    int
		labels string
		points []point
	}
	byKey := map[string]*series{}
	var order []*series
	for t := from; !t.After(to); t = t.Add(step) {
		f.advance(t)
		for _, s := range f.samples() {
			if o.Metrics != nil && !o.Metrics.MatchString(fams[s.fam].name) {
				continue
			}
			key := strconv.Itoa(s.fam) + "\x00" + strings.Join(s.labels, "\x00")
			sr := byKey[key]
			if sr == nil {
				sr = &series{fam: s.fam, labels: formatLabels(scraped(fams[s.fam].labels, s.labels, target))}
				byKey[key] = sr
				order = append(order, sr)
			}
			sr.points = append(sr.points, point{t.Unix(), s.value})
		}
	}
	f.advance(to)
	bw := bufio.NewWriterSize(w, 1<<20)
	for fi, fm := range fams {
		wrote := false
		for _, sr := range order {
			if sr.fam != fi {
				continue
			}
			name := fm.name
			if !wrote {
				typ, base := "gauge", fm.name
				if fm.counter {
					typ, base = "counter", strings.TrimSuffix(fm.name, "_total")
				}
				fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", base, escapeHelp(fm.help), base, typ)
				wrote = true
			}
			for _, p := range sr.points {
				bw.WriteString(name)
				bw.WriteString(sr.labels)
				bw.WriteByte(' ')
				bw.WriteString(strconv.FormatFloat(p.v, 'g', -1, 64))
				bw.WriteByte(' ')
				bw.WriteString(strconv.FormatInt(p.t, 10))
				bw.WriteByte('\n')
			}
		}
	}
	bw.WriteString("# EOF\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	return nil
}

// scraped returns label names and values as Prometheus stores them after
// scraping target.
func scraped(names, values []string, target ScrapeTarget) ([]string, []string) {
	if target.Job == "" && target.Instance == "" {
		return names, values
	}
	n := make([]string, 0, len(names)+2)
	v := make([]string, 0, len(values)+2)
	for i, name := range names {
		if name == "job" || name == "instance" {
			name = "exported_" + name
		}
		n = append(n, name)
		v = append(v, values[i])
	}
	if target.Job != "" {
		n, v = append(n, "job"), append(v, target.Job)
	}
	if target.Instance != "" {
		n, v = append(n, "instance"), append(v, target.Instance)
	}
	return n, v
}

func formatLabels(names, values []string) string {
	if len(names) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
		b.WriteString(`="`)
		b.WriteString(escapeLabel(values[i]))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

func escapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(s)
}
