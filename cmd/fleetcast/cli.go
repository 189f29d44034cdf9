package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/prometheus/common/promslog"
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
		fmt.Fprintln(w, "  --version\n        print the version and exit")
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
// command, as Prometheus and its exporters have them: the values are
// promslog's, so lines look like Prometheus' own (durations in seconds).
type logFlags struct {
	level  *promslog.Level
	format *promslog.Format
}

func (l *logFlags) register(fs *flag.FlagSet) {
	l.level = promslog.NewLevel()
	l.format = promslog.NewFormat()
	_ = l.format.Set("logfmt") // a valid constant
	fs.Var(l.level, "log.level", "only log messages at or above this level: debug, info, warn, error")
	fs.Var(l.format, "log.format", "log line format: logfmt or json")
}

// logger builds the promslog logger the flags ask for, writing to w. The
// flags validate their values when parsed, so it does not fail today; the
// error return keeps callers ready for a flag that can.
func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	if l.level == nil {
		return nil, errors.New("log flags were not registered")
	}
	return promslog.New(&promslog.Config{Level: l.level, Format: l.format, Writer: w}), nil
}

// bindListen binds the --web.listen-address before a server starts any work,
// so a port in use ends the command with one error naming the flag instead
// of a running exporter whose targets all look down.
func bindListen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--web.listen-address=%s: %w", addr, err)
	}
	return l, nil
}
