package main

import "io"

func runDetect(args []string, stdout, stderr io.Writer) int {
	return notReady("detect", "The detect command.", "fleetcast detect --help", args, stderr)
}
