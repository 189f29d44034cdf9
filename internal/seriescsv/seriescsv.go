// Package seriescsv reads and writes the long CSV format that fleetcast's
// offline commands share (see DESIGN.md): a header row, then
// series,timestamp,value with timestamps as Unix seconds or RFC 3339.
// A bad row is reported with its file, line number and what is wrong.
package seriescsv

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Series is one named series, its points sorted by time.
type Series struct {
	Name   string
	Times  []int64 // Unix seconds
	Values []float64
}

// ParseError names where a file went wrong.
type ParseError struct {
	File string
	Line int // 1-based; 0 for errors that are about the whole file
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// ParseTimestamp reads Unix seconds (integer or fractional) or RFC 3339.
func ParseTimestamp(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("timestamp %q is not a finite number", s)
		}
		return int64(math.Round(f)), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("timestamp %q is neither Unix seconds nor RFC 3339 (e.g. 2026-01-02T15:04:05Z)", s)
	}
	return t.Unix(), nil
}

// Read parses series,timestamp,value rows. name is used in errors. Values may
// be empty, NaN or non-finite ("NaN", "+Inf"): an empty value is read as
// NaN, a gap. Series come back in order of first appearance, each sorted by
// time; a repeated timestamp within a series is an error.
func Read(r io.Reader, name string) ([]Series, error) {
	return read(r, name, false)
}

// ReadKeepRepeats is Read for data that may repeat a timestamp within a
// series (NAB's recordings do): rows with equal times are kept, in file
// order, instead of being an error. The anomaly detector scores every row.
func ReadKeepRepeats(r io.Reader, name string) ([]Series, error) {
	return read(r, name, true)
}

func read(r io.Reader, name string, keepRepeats bool) ([]Series, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &ParseError{File: name, Msg: "empty file; want a header row series,timestamp,value"}
	}
	if err != nil {
		return nil, &ParseError{File: name, Line: 1, Msg: err.Error()}
	}
	cols := map[string]int{}
	for i, h := range header {
		cols[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	iS, okS := cols["series"]
	iT, okT := cols["timestamp"]
	iV, okV := cols["value"]
	if !okS || !okT || !okV {
		return nil, &ParseError{File: name, Line: 1, Msg: fmt.Sprintf("header %q: want the columns series,timestamp,value", strings.Join(header, ","))}
	}
	need := max(iS, iT, iV) + 1
	index := map[string]int{}
	var out []Series
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, &ParseError{File: name, Line: pe.Line, Msg: pe.Err.Error()}
			}
			return nil, &ParseError{File: name, Msg: err.Error()}
		}
		line, _ := cr.FieldPos(0)
		if len(rec) < need {
			return nil, &ParseError{File: name, Line: line, Msg: fmt.Sprintf("%d fields, want at least %d (series,timestamp,value)", len(rec), need)}
		}
		sname := strings.TrimSpace(rec[iS])
		if sname == "" {
			return nil, &ParseError{File: name, Line: line, Msg: "empty series name"}
		}
		ts, err := ParseTimestamp(rec[iT])
		if err != nil {
			return nil, &ParseError{File: name, Line: line, Msg: err.Error()}
		}
		v := math.NaN()
		if vs := strings.TrimSpace(rec[iV]); vs != "" {
			v, err = strconv.ParseFloat(vs, 64)
			if err != nil {
				return nil, &ParseError{File: name, Line: line, Msg: fmt.Sprintf("value %q is not a number", vs)}
			}
		}
		i, ok := index[sname]
		if !ok {
			i = len(out)
			index[sname] = i
			out = append(out, Series{Name: sname})
		}
		out[i].Times = append(out[i].Times, ts)
		out[i].Values = append(out[i].Values, v)
	}
	if len(out) == 0 {
		return nil, &ParseError{File: name, Msg: "no data rows after the header"}
	}
	for i := range out {
		if err := sortSeries(&out[i], keepRepeats); err != nil {
			return nil, &ParseError{File: name, Msg: err.Error()}
		}
	}
	return out, nil
}

func sortSeries(s *Series, keepRepeats bool) error {
	if !sort.SliceIsSorted(s.Times, func(a, b int) bool { return s.Times[a] < s.Times[b] }) {
		idx := make([]int, len(s.Times))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return s.Times[idx[a]] < s.Times[idx[b]] })
		ts := make([]int64, len(idx))
		vs := make([]float64, len(idx))
		for k, i := range idx {
			ts[k], vs[k] = s.Times[i], s.Values[i]
		}
		s.Times, s.Values = ts, vs
	}
	for i := 1; i < len(s.Times); i++ {
		if s.Times[i] == s.Times[i-1] && !keepRepeats {
			return fmt.Errorf("series %q: timestamp %d appears twice", s.Name, s.Times[i])
		}
	}
	return nil
}

// Writer writes rows of a long CSV with the given header.
type Writer struct {
	w *csv.Writer
}

// NewWriter writes the header row and returns a writer for the rest.
func NewWriter(w io.Writer, header ...string) (*Writer, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return nil, fmt.Errorf("write CSV header: %w", err)
	}
	return &Writer{w: cw}, nil
}

// Row writes one row: the series name, the timestamp and the values.
func (w *Writer) Row(series string, ts int64, values ...float64) error {
	rec := make([]string, 0, 2+len(values))
	rec = append(rec, series, strconv.FormatInt(ts, 10))
	for _, v := range values {
		rec = append(rec, strconv.FormatFloat(v, 'g', 10, 64))
	}
	return w.w.Write(rec)
}

// Flush writes any buffered rows and reports the first error.
func (w *Writer) Flush() error {
	w.w.Flush()
	return w.w.Error()
}
