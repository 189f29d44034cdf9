package main

import (
	"fmt"
	"io"
)

// notReady is the body of a subcommand whose part is still being built: it
// answers --help and rejects bad flags like the others, then says so and
// fails.
func notReady(name, about, example string, args []string, stderr io.Writer) int {
	fs := newFlagSet(name, about, example, stderr)
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	fmt.Fprintf(stderr, "fleetcast %s: not ready yet in this version\n", name)
	return 1
}
