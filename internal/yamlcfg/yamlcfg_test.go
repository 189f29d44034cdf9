package yamlcfg

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
)

type inner struct {
	Every model.Duration `yaml:"every"`
	At    time.Time      `yaml:"at"`
}

type testConfig struct {
	Name   string                  `yaml:"name"`
	Count  int                     `yaml:"count"`
	Ratio  float64                 `yaml:"ratio"`
	On     bool                    `yaml:"on"`
	Wait   model.Duration          `yaml:"wait"`
	Steps  []model.Duration        `yaml:"steps"`
	Inner  *inner                  `yaml:"inner"`
	List   []inner                 `yaml:"list"`
	Labels map[string]string       `yaml:"labels"`
	HTTP   config.HTTPClientConfig `yaml:"http_config"`
}

func TestDecodeAccepts(t *testing.T) {
	var c testConfig
	c.Count = 7 // a default the file leaves alone
	text := `name: a
ratio: 0.5
on: true
wait: 1h30m
steps: [500ms, 90s, 1d, 2w, 0]
inner: {every: 5m, at: 2026-01-02T03:04:05Z}
list: [{every: 1m}]
labels: {team: x}
http_config: {follow_redirects: false}
`
	if err := Decode([]byte(text), &c); err != nil {
		t.Fatal(err)
	}
	want := []model.Duration{model.Duration(500 * time.Millisecond), model.Duration(90 * time.Second),
		model.Duration(24 * time.Hour), model.Duration(14 * 24 * time.Hour), 0}
	if c.Count != 7 || c.Wait != model.Duration(90*time.Minute) || len(c.Steps) != len(want) || c.Inner.At.Hour() != 3 {
		t.Fatalf("decoded %+v", c)
	}
	for i := range want {
		if c.Steps[i] != want[i] {
			t.Errorf("steps[%d] = %s, want %s", i, c.Steps[i], want[i])
		}
	}
}

func TestDecodeErrorsNameTheFieldAndWhatIsValid(t *testing.T) {
	cases := []struct{ name, text, field, valid string }{
		{"unknown field", "nmae: a\n", "nmae: line 1: unknown field", "valid are name, count, ratio"},
		{"unknown nested", "inner: {evry: 5m}\n", "inner.evry: line 1: unknown field", "valid are every, at"},
		{"bad duration", "wait: 5 minutes\n", "wait: line 1", "want a number and a unit"},
		{"fractional Go form", "wait: 1.5h\n", "wait: line 1", "write 1h30m"},
		{"fractional day", "steps: [1.5d]\n", "steps[0]: line 1", "write 1d12h"},
		{"microseconds", "wait: 100us\n", "wait: line 1", "the smallest unit is ms"},
		{"negative", "wait: -5m\n", "wait: line 1", "want a duration >= 0"},
		{"unit order", "wait: 30m1h\n", "wait: line 1", "1h30m"},
		{"duration in a list", "list:\n  - every: 1m\n  - every: soon\n", "list[1].every: line 3", "e.g. 30s"},
		{"integer", "count: many\n", "count: line 1", "want an integer"},
		{"number", "ratio: half\n", "ratio: line 1", "want a number"},
		{"bool", "on: maybe\n", "on: line 1", "want true or false"},
		{"list wanted", "steps: 5m\n", "steps: line 1", "want a list"},
		{"mapping wanted", "inner: 5m\n", "inner: line 1", "want a mapping of fields (every, at)"},
		{"map value", "labels: {team: [a]}\n", "labels.team: line 1", "want a string"},
		{"time", "inner: {at: tomorrow}\n", "inner.at: line 1", "want RFC 3339"},
		{"self-validating type", "http_config: {bearer_token: a, bearer_token_file: b}\n", "http_config: line 1", "at most one of bearer_token"},
		{"top level", "- a\n", "line 1", "want a mapping of fields (name,"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c testConfig
			err := Decode([]byte(tc.text), &c)
			if err == nil {
				t.Fatalf("accepted %q", tc.text)
			}
			if !strings.HasPrefix(err.Error(), tc.field) || !strings.Contains(err.Error(), tc.valid) {
				t.Fatalf("error %q, want it to start %q and say %q", err, tc.field, tc.valid)
			}
		})
	}
}

func TestDecodeMergeKeys(t *testing.T) {
	text := "list:\n  - &base {every: 5m}\n  - <<: *base\n    at: 2026-01-02T03:04:05Z\n  - <<: {every: 1h}\n"
	var c testConfig
	if err := Decode([]byte(text), &c); err != nil {
		t.Fatal(err)
	}
	if len(c.List) != 3 || c.List[1].Every != model.Duration(5*time.Minute) || c.List[2].Every != model.Duration(time.Hour) {
		t.Fatalf("merged: %+v", c.List)
	}
	err := Decode([]byte("list:\n  - <<: {evry: 1h}\n"), &c)
	if err == nil || !strings.HasPrefix(err.Error(), "list[0].evry: line 2: unknown field") {
		t.Fatalf("a bad field in a merged mapping: %v", err)
	}
}

func TestDecodeEmpty(t *testing.T) {
	for _, text := range []string{"", "# only a comment\n"} {
		var c testConfig
		if err := Decode([]byte(text), &c); !errors.Is(err, ErrEmpty) {
			t.Errorf("%q: %v, want ErrEmpty", text, err)
		}
	}
}

func TestOr(t *testing.T) {
	if Or(0, time.Minute) != time.Minute || Or(model.Duration(time.Second), time.Minute) != time.Second {
		t.Fatal("Or")
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"14d", 14 * 24 * time.Hour, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"500ms", 500 * time.Millisecond, ""},
		{"0", 0, ""},
		{"1.5d", 0, "write 1d12h"},
		{" 90s ", 0, "write 1m30s"},
		{"", 0, "want a number and a unit"},
		{"-1h", 0, "want a duration >= 0"},
	} {
		got, err := ParseDuration(tc.in)
		if tc.err == "" && (err != nil || got != tc.want) {
			t.Errorf("%q: %s, %v; want %s", tc.in, got, err, tc.want)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%q: %v; want an error saying %q", tc.in, err, tc.err)
		}
	}
}
