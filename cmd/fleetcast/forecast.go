package main

import "io"

func runForecast(args []string, stdout, stderr io.Writer) int {
	return notReady("forecast", "The forecast command.", "fleetcast forecast --help", args, stderr)
}
