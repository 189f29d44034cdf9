package main

import "io"

func runActuator(args []string, stdout, stderr io.Writer) int {
	return notReady("actuator", "The actuator command.", "fleetcast actuator --help", args, stderr)
}
