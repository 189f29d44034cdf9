package main

import "io"

func runBacktest(args []string, stdout, stderr io.Writer) int {
	return notReady("backtest", "The backtest command.", "fleetcast backtest --help", args, stderr)
}
