package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestDispatch(t *testing.T) {
	cases := []struct {
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{nil, 2, "", "Usage: fleetcast <command>"},
		{[]string{"--help"}, 0, "Commands:", ""},
		{[]string{"nope"}, 2, "", `unknown command "nope"`},
		{[]string{"version"}, 0, "fleetcast, version", ""},
		{[]string{"version", "--bogus"}, 2, "", "flag provided but not defined: -bogus"},
		{[]string{"version", "stray"}, 2, "", `unexpected argument "stray"`},
		{[]string{"bench", "nope"}, 2, "", `unknown benchmark "nope"`},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if code != c.code || !strings.Contains(out.String(), c.inStdout) || !strings.Contains(errb.String(), c.inStderr) {
			t.Errorf("fleetcast %v: exit %d, stdout %q, stderr %q; want exit %d with %q / %q",
				c.args, code, out.String(), errb.String(), c.code, c.inStdout, c.inStderr)
		}
	}
}

// TestEveryCommandHasHelp checks that --help exits 0 and shows an example.
func TestEveryCommandHasHelp(t *testing.T) {
	for name := range commands() {
		var out, errb bytes.Buffer
		code := run([]string{name, "--help"}, &out, &errb)
		text := out.String() + errb.String()
		if code != 0 || !strings.Contains(text, "Example") {
			t.Errorf("fleetcast %s --help: exit %d, output %q; want exit 0 with an example", name, code, text)
		}
	}
}
