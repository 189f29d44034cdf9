package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// newFlagSet returns a flag set that reports errors instead of exiting, and
// whose --help prints what the command does, an example and its flags.
// Flags are spelt with two dashes in the help, as Prometheus spells them; the
// flag package accepts one or two.
func newFlagSet(name, about, example string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("fleetcast "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: fleetcast %s [flags]\n\n%s\n\nExample:\n", name, strings.TrimSpace(about))
		for _, line := range strings.Split(strings.TrimSpace(example), "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
		fmt.Fprintln(w, "\nFlags:")
		fs.VisitAll(func(f *flag.Flag) {
			typ, help := flag.UnquoteUsage(f)
			fmt.Fprintf(w, "  --%s", f.Name)
			if typ != "" {
				fmt.Fprintf(w, " %s", typ)
			}
			fmt.Fprintf(w, "\n        %s", help)
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
				fmt.Fprintf(w, " (default %q)", f.DefValue)
			}
			fmt.Fprintln(w)
		})
	}
	return fs
}

// parseFlags parses args and says whether to go on. When it returns false,
// code is the exit status: 0 after --help, 2 after a usage error. Stray
// positional arguments are usage errors too.
func parseFlags(fs *flag.FlagSet, args []string) (ok bool, code int) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(io.Discard)
			return false, 0
		}
		return false, 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q; run '%s --help' for usage\n", fs.Name(), fs.Arg(0), fs.Name())
		return false, 2
	}
	return true, 0
}

// logFlags are the --log.level and --log.format flags of every long-running
// command, as Prometheus and its exporters have them.
type logFlags struct {
	level  string
	format string
}

func (l *logFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.level, "log.level", "info", "only log messages at or above this level: debug, info, warn, error")
	fs.StringVar(&l.format, "log.format", "logfmt", "log line format: logfmt or json")
}

// logger builds the slog logger the flags ask for.
func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	switch l.level {
	case "debug":
		lvl = slog.LevelDebug
	case "info":
		lvl = slog.LevelInfo
	case "warn":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	default:
		return nil, fmt.Errorf("--log.level=%q: valid levels are debug, info, warn, error", l.level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch l.format {
	case "logfmt":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log.format=%q: valid formats are logfmt and json", l.format)
	}
}
