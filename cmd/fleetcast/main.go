// Command fleetcast is the single binary of fleetcast: the forecasting
// exporter, the Alertmanager-driven actuator, the simulated Nomad fleet, the
// demo and the offline forecasting, backtesting and benchmarking tools, each a
// subcommand.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one subcommand. run gets the arguments after the subcommand's
// name and returns the process exit status: 0 success, 1 failure, 2 usage.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() map[string]command {
	return map[string]command{
		"exporter": {"serve forecast gauges computed from Prometheus ranges", runExporter},
		"actuator": {"act on Nomad when Alertmanager reports a predicted shortage", runActuator},
		"forecast": {"forecast every series of a CSV file", runForecast},
		"backtest": {"score the forecasting models on a CSV file by rolling-origin backtest", runBacktest},
		"detect":   {"score every observation of a CSV file for anomalies", runDetect},
		"sim":      {"run a simulated Nomad fleet that answers the Nomad HTTP API", runSim},
		"demo":     {"run the whole closed loop on the simulated fleet", runDemo},
		"bench":    {"print performance and closed-loop figures", runBench},
		"version":  {"print the version", runVersion},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 {
		usage(stderr, cmds)
		return 2
	}
	name := args[0]
	switch name {
	case "-h", "--help", "-help", "help":
		usage(stdout, cmds)
		return 0
	case "--version", "-version":
		name = "version"
	}
	cmd, ok := cmds[name]
	if ok && wantsVersion(args[1:]) {
		fmt.Fprintln(stdout, versionText())
		return 0
	}
	if !ok {
		fmt.Fprintf(stderr, "fleetcast: unknown command %q; valid commands: %s\n", name, strings.Join(sortedNames(cmds), ", "))
		fmt.Fprintln(stderr, "Run 'fleetcast --help' for usage.")
		return 2
	}
	return cmd.run(args[1:], stdout, stderr)
}

// wantsVersion says whether the arguments of a subcommand ask for the
// version (--version before any "--"), which every subcommand answers, as
// Prometheus' tools do.
func wantsVersion(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "--version", "-version":
			return true
		}
	}
	return false
}

func sortedNames(cmds map[string]command) []string {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "fleetcast sees resource shortages coming on a Nomad fleet and acts before they happen.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: fleetcast <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, n := range sortedNames(cmds) {
		fmt.Fprintf(w, "  %-9s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'fleetcast <command> --help' for the flags and an example of each.")
}
