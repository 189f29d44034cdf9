package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", "Print fleetcast's version and the Go version it was built with.", "fleetcast version", stderr)
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	rev := "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				rev = s.Value
			}
		}
	}
	fmt.Fprintf(stdout, "fleetcast, version %s (revision: %s, go: %s)\n", version, rev, runtime.Version())
	return 0
}
