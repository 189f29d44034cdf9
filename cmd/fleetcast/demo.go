package main

import "io"

func runDemo(args []string, stdout, stderr io.Writer) int {
	return notReady("demo", "The demo command.", "fleetcast demo --help", args, stderr)
}
