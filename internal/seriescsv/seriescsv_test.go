package seriescsv

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	in := "series,timestamp,value\nb,20,2\na,2026-01-01T00:00:00Z,1\nb,10,\nb,30,NaN\n"
	got, err := Read(strings.NewReader(in), "in.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "b" || got[1].Name != "a" {
		t.Fatalf("series order: %+v", got)
	}
	b := got[0]
	if b.Times[0] != 10 || b.Times[1] != 20 || b.Times[2] != 30 {
		t.Fatalf("b not sorted: %v", b.Times)
	}
	if !math.IsNaN(b.Values[0]) || b.Values[1] != 2 || !math.IsNaN(b.Values[2]) {
		t.Fatalf("b values: %v", b.Values)
	}
	if got[1].Times[0] != 1767225600 {
		t.Fatalf("RFC 3339 timestamp: %d", got[1].Times[0])
	}
}

func TestReadErrors(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"empty", "", "in.csv: empty file"},
		{"header", "a,b,c\n", "in.csv:1: header"},
		{"no rows", "series,timestamp,value\n", "no data rows"},
		{"short row", "series,timestamp,value\na,1\n", "in.csv:2: 2 fields"},
		{"bad time", "series,timestamp,value\na,1,1\na,yesterday,2\n", "in.csv:3: timestamp \"yesterday\""},
		{"bad value", "series,timestamp,value\na,1,x\n", "in.csv:2: value \"x\""},
		{"no name", "series,timestamp,value\n,1,1\n", "in.csv:2: empty series name"},
		{"duplicate", "series,timestamp,value\na,1,1\na,1,2\n", "appears twice"},
		{"quote", "series,timestamp,value\n\"a,1,1\n", "in.csv:2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(c.in), "in.csv")
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want a ParseError containing %q", err, c.want)
			}
		})
	}
}

func FuzzRead(f *testing.F) {
	f.Add("series,timestamp,value\na,1,1\nb,2026-01-01T00:00:00Z,2\n")
	f.Add("series,timestamp,value\na,1,\na,1,2\n")
	f.Add("value,series,timestamp\n3,a,1\n")
	f.Fuzz(func(t *testing.T, in string) {
		ss, err := Read(strings.NewReader(in), "fuzz.csv")
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error is not a ParseError: %v", err)
			}
			return
		}
		for _, s := range ss {
			if len(s.Times) != len(s.Values) || len(s.Times) == 0 {
				t.Fatalf("series %q: %d times, %d values", s.Name, len(s.Times), len(s.Values))
			}
			for i := 1; i < len(s.Times); i++ {
				if s.Times[i] <= s.Times[i-1] {
					t.Fatalf("series %q not strictly increasing", s.Name)
				}
			}
		}
	})
}
