package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// detectInput writes a two-series CSV: one with a spike, one with a
// repeated timestamp and a gap, the oddities NAB's data has.
func detectInput(t *testing.T) (string, int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("series,timestamp,value\n")
	rows := 0
	for i := range 2000 {
		v := 10 + math.Sin(float64(i)/30) + 0.1*math.Sin(float64(i)*1.7)
		if i == 1500 {
			v += 50
		}
		fmt.Fprintf(&b, "a,%d,%g\n", 1_700_000_000+i*300, v)
		rows++
	}
	for i := range 400 {
		ts := 1_700_000_000 + i*60
		if i == 100 {
			ts -= 60 // repeats the previous timestamp
		}
		val := strconv.Itoa(i % 7)
		if i == 200 {
			val = "" // a gap
		}
		fmt.Fprintf(&b, "b,%d,%s\n", ts, val)
		rows++
	}
	path := filepath.Join(t.TempDir(), "in.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, rows
}

func TestDetectCommand(t *testing.T) {
	in, rows := detectInput(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "scores.csv")
	plots := filepath.Join(dir, "plots")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"detect", "--input", in, "--output", out, "--plot", plots}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	}()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(recs[0], ","); got != "series,timestamp,score" {
		t.Fatalf("header %q", got)
	}
	if len(recs)-1 != rows {
		t.Fatalf("%d rows out, %d in: want one per input row", len(recs)-1, rows)
	}
	spike := 0.0
	for _, r := range recs[1:] {
		s, err := strconv.ParseFloat(r[2], 64)
		if err != nil || s < 0 || s > 1 {
			t.Fatalf("row %v: score not in [0,1]", r)
		}
		if r[0] == "a" && r[1] == strconv.Itoa(1_700_000_000+1500*300) {
			spike = s
		}
	}
	if spike < 0.5 {
		t.Errorf("the spike scored %v", spike)
	}
	for _, name := range []string{"a.png", "b.png"} {
		if st, err := os.Stat(filepath.Join(plots, name)); err != nil || st.Size() == 0 {
			t.Errorf("plot %s: %v", name, err)
		}
	}
	if !strings.Contains(stderr.String(), "[2/2] b") || !strings.Contains(stderr.String(), "obs/s") {
		t.Errorf("no progress on stderr: %q", stderr.String())
	}
}

func TestDetectCommandErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.csv")
	if err := os.WriteFile(bad, []byte("series,timestamp,value\na,1,2\na,x,3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"detect"}, 2, "--input is required"},
		{[]string{"detect", "--nope"}, 2, "flag provided but not defined"},
		{[]string{"detect", "--input", bad}, 1, "bad.csv:3: timestamp"},
		{[]string{"detect", "--input", filepath.Join(t.TempDir(), "missing.csv")}, 1, "missing.csv"},
		{[]string{"detect", "--help"}, 0, "Example"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := run(c.args, &stdout, &stderr)
		if code != c.code || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr.String(), c.code, c.want)
		}
	}
}
