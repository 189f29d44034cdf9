package main

import "io"

func runBench(args []string, stdout, stderr io.Writer) int {
	return notReady("bench", "The bench command.", "fleetcast bench --help", args, stderr)
}
