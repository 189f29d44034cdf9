package main

import "io"

func runExporter(args []string, stdout, stderr io.Writer) int {
	return notReady("exporter", "The exporter command.", "fleetcast exporter --help", args, stderr)
}
