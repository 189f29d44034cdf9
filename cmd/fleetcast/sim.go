package main

import "io"

func runSim(args []string, stdout, stderr io.Writer) int {
	return notReady("sim", "The sim command.", "fleetcast sim --help", args, stderr)
}
