package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeSeriesCSV writes two hourly series of n points with a daily pattern.
func writeSeriesCSV(t *testing.T, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("series,timestamp,value\n")
	for _, name := range []string{"a", "b"} {
		for i := range n {
			v := 10 + 5*math.Sin(2*math.Pi*float64(i)/24) + float64(i%5)/10
			if name == "b" {
				v *= 2
			}
			fmt.Fprintf(&b, "%s,%d,%g\n", name, 1_700_000_000+i*3600, v)
		}
	}
	p := filepath.Join(t.TempDir(), "in.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestForecastCommand(t *testing.T) {
	in := writeSeriesCSV(t, 24*10)
	out := filepath.Join(t.TempDir(), "fc.csv")
	var so, se bytes.Buffer
	if code := run([]string{"forecast", "--input", in, "--horizon", "6", "--level", "0.9", "--output", out}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "series,timestamp,mean,lower,upper" || len(rows) != 1+2*6 {
		t.Fatalf("header %v and %d rows, want series,timestamp,mean,lower,upper and 12 rows", rows[0], len(rows)-1)
	}
	last := 1_700_000_000 + (24*10-1)*3600
	if rows[1][0] != "a" || rows[1][1] != fmt.Sprint(last+3600) || rows[7][0] != "b" {
		t.Errorf("rows %v ... %v: want series a from %d, then b", rows[1], rows[7], last+3600)
	}
	if !strings.Contains(se.String(), "forecast: 2 series") {
		t.Errorf("stderr %q: want a summary line", se.String())
	}
	// A duration horizon: 3h at hourly steps is 3 rows per series, to stdout.
	so.Reset()
	se.Reset()
	if code := run([]string{"forecast", "--input", in, "--horizon", "3h", "--quiet", "--model", "ets"}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	if n := strings.Count(so.String(), "\n"); n != 1+2*3 || se.Len() != 0 {
		t.Errorf("--horizon 3h: %d lines on stdout, stderr %q; want 7 lines and a quiet stderr", n, se.String())
	}
}

func TestForecastCommandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("series,timestamp,value\na,1,1\na,2,oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	nan := filepath.Join(dir, "nan.csv")
	if err := os.WriteFile(nan, []byte("series,timestamp,value\na,1,1\na,2,2\nb,1,NaN\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	evBad := filepath.Join(dir, "ev.csv")
	if err := os.WriteFile(evBad, []byte("name,start,end\nx,10,5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := writeSeriesCSV(t, 48)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--input", bad, "--horizon", "3"}, 1, "bad.csv:3: value \"oops\" is not a number"},
		{[]string{"--input", good}, 2, "--horizon is required"},
		{[]string{"--input", good, "--horizon", "soon"}, 2, `--horizon="soon"`},
		{[]string{"--input", good, "--horizon", "3", "--level", "80"}, 2, "--level=80"},
		{[]string{"--input", good, "--horizon", "3", "--model", "magic"}, 2, `--model="magic": valid models are auto, naive`},
		{[]string{"--input", good, "--horizon", "3", "--season", "daily"}, 2, `--season="daily"`},
		{[]string{"--input", good, "--horizon", "3", "--events", evBad}, 2, "ev.csv:2: event \"x\" ends"},
		{[]string{"--horizon", "3"}, 2, "--input is required"},
		{[]string{"--input", filepath.Join(dir, "missing.csv"), "--horizon", "3"}, 1, "missing.csv"},
		{[]string{"--input", nan, "--horizon", "3", "--quiet"}, 1, `series "b": series has no finite values`},
		{[]string{"--input", good, "--horizon", "3", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"--input", good, "--horizon", "3", "--min", "zero"}, 2, `--min="zero": want a number`},
		{[]string{"--input", good, "--horizon", "3", "--min", "5", "--max", "5"}, 2, "--min=5 --max=5: the lower bound must be below the upper"},
		{[]string{"--input", good, "--horizon", "3", "--max", "-inf"}, 2, "max -inf"},
	}
	for _, c := range cases {
		var so, se bytes.Buffer
		code := run(append([]string{"forecast"}, c.args...), &so, &se)
		if code != c.code || !strings.Contains(se.String(), c.want) {
			t.Errorf("forecast %v: exit %d, stderr %q; want exit %d with %q", c.args, code, se.String(), c.code, c.want)
		}
	}
}

func TestForecastCommandEvents(t *testing.T) {
	in := writeSeriesCSV(t, 24*10)
	last := 1_700_000_000 + (24*10-1)*3600
	ev := filepath.Join(t.TempDir(), "ev.csv")
	body := fmt.Sprintf("name,start,end,effect,series\npeak,%d,%d,100,a\n", last+3600, last+2*3600)
	if err := os.WriteFile(ev, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var with, without, se bytes.Buffer
	if code := run([]string{"forecast", "--input", in, "--horizon", "2", "--quiet", "--events", ev}, &with, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	if code := run([]string{"forecast", "--input", in, "--horizon", "2", "--quiet"}, &without, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	a, _ := csv.NewReader(&with).ReadAll()
	b, _ := csv.NewReader(&without).ReadAll()
	var x, y float64
	fmt.Sscan(a[1][2], &x)
	fmt.Sscan(b[1][2], &y)
	if math.Abs(x-y-100) > 1e-6 || a[3][2] != b[3][2] {
		t.Errorf("known event of +100 on series a: %v vs %v (and b %v vs %v)", a[1][2], b[1][2], a[3][2], b[3][2])
	}
}

func TestBacktestCommand(t *testing.T) {
	in := writeSeriesCSV(t, 24*12)
	dir := filepath.Join(t.TempDir(), "plots")
	var so, se bytes.Buffer
	if code := run([]string{"backtest", "--input", in, "--horizon", "12", "--folds", "2", "--plot", dir, "--quiet"}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	out := so.String()
	for _, want := range []string{"model", "sMAPE", "MASE", "coverage", "auto ", "ets ", "regression ", "snaive ", "auto chose:", "plots: 2 PNG files"} {
		if !strings.Contains(out, want) {
			t.Errorf("backtest output lacks %q:\n%s", want, out)
		}
	}
	for _, name := range []string{"a.png", "b.png"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Size() < 1000 {
			t.Errorf("plot %s: %v", name, err)
		}
	}
	se.Reset()
	if code := run([]string{"backtest", "--input", in}, &so, &se); code != 2 || !strings.Contains(se.String(), "--horizon is required") {
		t.Errorf("backtest without --horizon: exit %d, stderr %q", code, se.String())
	}
}

func TestBenchForecastRuns(t *testing.T) {
	var so, se bytes.Buffer
	if code := run([]string{"bench", "forecast", "--fits", "5", "--series", "4"}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	for _, want := range []string{"auto", "regression", "series/s", "10,000 series"} {
		if !strings.Contains(so.String(), want) {
			t.Errorf("bench forecast output lacks %q:\n%s", want, so.String())
		}
	}
}

// TestForecastCommandBounds: a zero-inflated bursty series (the issue's
// disk-write bytes) gets no negative mean or bound, and --max caps the band.
func TestForecastCommandBounds(t *testing.T) {
	var b strings.Builder
	b.WriteString("series,timestamp,value\n")
	for i := range 2016 {
		v := 0.0
		if i%7 == 3 || i%11 == 5 {
			v = float64((i*7919)%900_000_000 + 1)
		}
		if i == 2015 {
			v = 12288
		}
		fmt.Fprintf(&b, "disk,%d,%g\n", 1_700_000_000+i*300, v)
		fmt.Fprintf(&b, "pct,%d,%g\n", 1_700_000_000+i*300, 90+9*math.Sin(float64(i)/20))
	}
	in := filepath.Join(t.TempDir(), "in.csv")
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "fc.csv")
	var so, se bytes.Buffer
	if code := run([]string{"forecast", "--input", in, "--horizon", "1h", "--level", "0.98", "--max", "95", "--output", out, "--quiet"}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows[1:] {
		for _, c := range r[2:] {
			var v float64
			if _, err := fmt.Sscan(c, &v); err != nil {
				t.Fatal(err)
			}
			if v < 0 || v > 95 {
				t.Fatalf("row %v: %v outside [0, 95]", r, v)
			}
		}
	}
}
