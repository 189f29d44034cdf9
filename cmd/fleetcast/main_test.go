package main

import (
	"bytes"
	"net"
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

// TestEveryCommandAnswersVersion checks that every subcommand prints the
// version on --version and exits 0 without running.
func TestEveryCommandAnswersVersion(t *testing.T) {
	for name := range commands() {
		var out, errb bytes.Buffer
		code := run([]string{name, "--version"}, &out, &errb)
		if code != 0 || !strings.HasPrefix(out.String(), "fleetcast, version ") || errb.Len() != 0 {
			t.Errorf("fleetcast %s --version: exit %d, stdout %q, stderr %q; want exit 0 and the version on stdout", name, code, out.String(), errb.String())
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

// TestBindFailureIsOneError checks that the exporter, given a port in use,
// exits 1 with one line naming the flag, before any cycle could log.
func TestBindFailureIsOneError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	var out, errb bytes.Buffer
	code := run([]string{"exporter", "--config.file=../../examples/fleetcast.yml", "--web.listen-address=" + ln.Addr().String()}, &out, &errb)
	lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
	if code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "--web.listen-address="+ln.Addr().String()) {
		t.Errorf("exit %d, stderr %q; want exit 1 and one line naming --web.listen-address", code, errb.String())
	}
}
