package main

import (
	"fmt"
	"io"

	"github.com/prometheus/common/version"
)

// The version, revision, branch, build user and date come from
// github.com/prometheus/common/version, set at build time by make build and
// make dist with -ldflags "-X github.com/prometheus/common/version.Version=…"
// (see the Makefile). A plain go build reports version "dev" and the VCS
// revision Go stamped into the binary.
const devVersion = "dev"

// versionText is what --version and the version command print, in the
// format of Prometheus and its exporters.
func versionText() string {
	if version.Version == "" {
		version.Version = devVersion
	}
	return version.Print("fleetcast")
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", "Print fleetcast's version, revision, build date and the Go version it was built with.", "fleetcast version", stderr)
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	fmt.Fprintln(stdout, versionText())
	return 0
}
