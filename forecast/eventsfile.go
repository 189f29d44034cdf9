package forecast

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"strconv"
	"strings"
	"time"
)

// EventRule is one row of an events file: an event and the series it
// applies to.
type EventRule struct {
	Event
	// Series is a glob (path.Match syntax) on series names; "" or "*"
	// matches every series.
	Series string
}

// ReadEvents parses an events file: CSV with a header row naming the
// columns name, start, end and optionally effect and series, in any order.
// start and end are Unix seconds or RFC 3339 (end exclusive). An empty
// effect means the effect is learnt from past occurrences of the same name;
// a number makes it known. Lines starting with # are comments. file names
// the input in errors, which give the line number and what is wrong.
func ReadEvents(r io.Reader, file string) ([]EventRule, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	bad := func(line int, format string, a ...any) error {
		return fmt.Errorf("%s:%d: %s", file, line, fmt.Sprintf(format, a...))
	}
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: empty events file; want a header row name,start,end,effect,series", file)
	}
	if err != nil {
		return nil, csvErr(file, err)
	}
	hline, _ := cr.FieldPos(0)
	col := map[string]int{"effect": -1, "series": -1}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch h {
		case "name", "start", "end", "effect", "series":
			col[h] = i
		default:
			return nil, bad(hline, "unknown column %q; valid columns are name, start, end, effect, series", h)
		}
	}
	for _, req := range []string{"name", "start", "end"} {
		if _, ok := col[req]; !ok {
			return nil, bad(hline, "header %q lacks the column %q; want name,start,end[,effect][,series]", strings.Join(header, ","), req)
		}
	}
	var out []EventRule
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvErr(file, err)
		}
		line, _ := cr.FieldPos(0)
		get := func(c string) string {
			i := col[c]
			if i < 0 || i >= len(rec) {
				return ""
			}
			return strings.TrimSpace(rec[i])
		}
		var ev EventRule
		if ev.Name = get("name"); ev.Name == "" {
			return nil, bad(line, "empty event name")
		}
		if ev.Start, err = parseTime(get("start")); err != nil {
			return nil, bad(line, "start: %v", err)
		}
		if ev.End, err = parseTime(get("end")); err != nil {
			return nil, bad(line, "end: %v", err)
		}
		if ev.End <= ev.Start {
			return nil, bad(line, "event %q ends (%d) before or when it starts (%d)", ev.Name, ev.End, ev.Start)
		}
		if e := get("effect"); e != "" {
			v, err := strconv.ParseFloat(e, 64)
			if err != nil || !finite(v) {
				return nil, bad(line, "effect %q is not a finite number (leave it empty to learn it)", e)
			}
			ev.Effect, ev.Known = v, true
		}
		ev.Series = get("series")
		if _, err := path.Match(ev.Series, ""); err != nil {
			return nil, bad(line, "series pattern %q: %v", ev.Series, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

func csvErr(file string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d: %v", file, pe.Line, pe.Err)
	}
	return fmt.Errorf("%s: %v", file, err)
}

func parseTime(s string) (int64, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if !finite(f) || math.Abs(f) > 1e15 {
			return 0, fmt.Errorf("%q is not a usable Unix time", s)
		}
		return int64(math.Round(f)), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither Unix seconds nor RFC 3339 (e.g. 2026-01-02T15:04:05Z)", s)
	}
	return t.Unix(), nil
}

// EventsFor returns the events of rules that apply to the named series.
func EventsFor(rules []EventRule, series string) []Event {
	var out []Event
	for _, r := range rules {
		if r.Series == "" || r.Series == "*" {
			out = append(out, r.Event)
			continue
		}
		if ok, _ := path.Match(r.Series, series); ok {
			out = append(out, r.Event)
		}
	}
	return out
}
