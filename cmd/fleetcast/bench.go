package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// benchCommands are the subcommands of "fleetcast bench"; each lives in its
// own file (bench_<name>.go).
func benchCommands() map[string]command {
	return map[string]command{
		"exporter": {"the exporter against a real Prometheus: first load, steady cycle, scrape, memory", runBenchExporter},
		"actuator": {"the actuator: decision latency and webhook requests per second on loopback", runBenchActuator},
		"loop":     {"closed loop in virtual time: predictive versus reactive on a demand trace", runBenchLoop},
		"forecast": {"the forecast engine: CPU per fit per model, allocations, series per second on all cores", runBenchForecast},
	}
}

func runBench(args []string, stdout, stderr io.Writer) int {
	subs := benchCommands()
	names := make([]string, 0, len(subs))
	for n := range subs {
		names = append(names, n)
	}
	sort.Strings(names)
	help := func(w io.Writer) {
		fmt.Fprintln(w, "Usage: fleetcast bench <what> [flags]\n\nPrints performance and closed-loop figures.\n\nExample:\n  fleetcast bench forecast\n\nWhat:")
		for _, n := range names {
			fmt.Fprintf(w, "  %-9s %s\n", n, subs[n].summary)
		}
	}
	if len(args) == 0 {
		help(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		help(stdout)
		return 0
	}
	sub, ok := subs[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "fleetcast bench: unknown benchmark %q; valid: %s\n", args[0], strings.Join(names, ", "))
		return 2
	}
	return sub.run(args[1:], stdout, stderr)
}
