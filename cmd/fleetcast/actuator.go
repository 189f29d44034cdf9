package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fleetcast/fleetcast/actuator"
	"github.com/fleetcast/fleetcast/internal/nomadver"
)

const actuatorAbout = `Receives Alertmanager webhooks (POST /webhook) and acts on Nomad before a predicted
shortage arrives: scales task groups and node pools and migrates allocations, as the
policies in --config.file say, bounded by cooldowns, step limits, a global rate limit and
an emergency stop file. Writes one JSON audit line per decision to stdout. Serves
/metrics, /-/healthy and /-/ready. The Nomad token comes from nomad.token_file or
NOMAD_TOKEN and is never logged.`

const actuatorExample = `fleetcast actuator --config.file examples/actuator.yml
fleetcast actuator --config.file examples/actuator.yml --check-config
NOMAD_TOKEN=... fleetcast actuator --config.file actuator.yml --web.config.file web.yml`

func runActuator(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serveActuator(ctx, args, stdout, stderr)
}

// serveActuator is the command; it stops when ctx ends.
func serveActuator(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("actuator", actuatorAbout, actuatorExample, stderr)
	var lf logFlags
	lf.register(fs)
	cfgFile := fs.String("config.file", "actuator.yml", "actuator configuration file (YAML)")
	var w webFlags
	w.register(fs, ":9811", "the webhook, metrics and health", 30*time.Second,
		"in-flight requests and Nomad actions; what is left is logged and the exit status is 1")
	check := fs.Bool("check-config", false, "validate the configuration and exit")
	dryRun := fs.Bool("dry-run", false, "decide and log but change nothing (overrides global.dry_run)")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	log, err := lf.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast actuator: %v\n", err)
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "fleetcast actuator: %v\n", err)
		return 1
	}
	st, err := loadActuator(*cfgFile, *dryRun, *w.config)
	if err != nil {
		return fail(err)
	}
	cfg := st.cfg
	if *check {
		warnings := cfg.Warnings()
		for _, w := range warnings {
			fmt.Fprintf(stderr, "fleetcast actuator: warning: %s\n", w)
		}
		ws := ""
		if n := len(warnings); n > 0 {
			ws = fmt.Sprintf(", with %d warning(s) on stderr", n)
		}
		fmt.Fprintf(stdout, "%s: OK, %d policies (dry_run=%v)%s\n", *cfgFile, len(cfg.Policies), cfg.Global.DryRun, ws)
		return 0
	}
	warnConfig(log, cfg)
	opts, err := connectActuator(ctx, st, log)
	if err != nil {
		return fail(err)
	}
	ln, err := w.bind()
	if err != nil {
		return fail(err)
	}
	metrics := actuator.NewMetrics()
	opts.Config, opts.Metrics, opts.Log = cfg, metrics, log
	opts.Audit = slog.New(slog.NewJSONHandler(stdout, nil)).With("log", "audit")
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	leaderDone, err := startLeader(ctx, st, &opts)
	if err != nil {
		return fail(err)
	}
	act, err := actuator.New(opts)
	if err != nil {
		return fail(err)
	}
	defer act.Close()
	// Gives nodes their eligibility back after a migration's overload
	// window, also when the process that migrated them is gone.
	go act.RunSweeper(ctx, time.Minute)
	hook := &actuator.Webhook{A: act, Token: st.token, Log: log}
	// SIGHUP and POST /-/reload read the config again, as Prometheus does:
	// validated first; a bad one is logged and the old one stays.
	var reloadMu sync.Mutex
	hook.Reload = func() error {
		reloadMu.Lock()
		defer reloadMu.Unlock()
		err := reloadActuator(*cfgFile, *dryRun, cfg, act, hook, log)
		if err != nil {
			metrics.ReloadOK.Set(0)
			log.Error("config reload failed; the previous config stays in force", "file", *cfgFile, "err", err)
			return err
		}
		metrics.ReloadOK.Set(1)
		metrics.ReloadTime.SetToCurrentTime()
		return nil
	}
	onSIGHUP(ctx, hook.Reload)
	srv := &http.Server{Handler: hook.Handler(nil), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	log.Info("fleetcast actuator started", "listen", w.address(), "config", *cfgFile, "policies", len(cfg.Policies),
		"dry_run", cfg.Global.DryRun, "nomad", opts.NomadAddress, "prometheus", cfg.Prometheus.URL, "leader_election", cfg.Leader.Enabled,
		"webhook_auth", st.token != "", "nomad_token_set", st.nomadToken != "")
	// A bounded drain: no new requests, in-flight ones (and the Nomad
	// actions they run) get --shutdown.timeout; what is still running then
	// is named in the audit log, and the exit status says so.
	return w.serve(ctx, ln, srv, log, func(sctx context.Context, _ error) bool {
		left := act.Drain(sctx)
		if left > 0 {
			log.Error("shut down with actions in flight; their outcome is unknown (see the audit log's intent lines)", "actions", left)
		}
		stop()
		if leaderDone != nil {
			if err := <-leaderDone; err != nil {
				log.Warn("leader lock release", "err", err)
			}
		}
		return left == 0
	})
}

// actuatorStart is what the actuator starts from: its config and the
// secrets the config names.
type actuatorStart struct {
	file              string
	cfg               *actuator.Config
	token, nomadToken string
}

// loadActuator reads the config file and the secret files it names and
// checks the web config file against them: all that --check-config checks.
func loadActuator(file string, dryRun bool, webConfig string) (*actuatorStart, error) {
	cfg, err := actuator.LoadConfig(file)
	if err != nil {
		return nil, err
	}
	if dryRun {
		cfg.Global.DryRun = true
	}
	st := &actuatorStart{file: file, cfg: cfg}
	if st.token, err = readSecret(cfg.Global.WebhookBearerTokenFile, "global.webhook_bearer_token_file"); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if st.nomadToken, err = readSecret(cfg.Nomad.TokenFile, "nomad.token_file"); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if st.nomadToken == "" {
		st.nomadToken = os.Getenv("NOMAD_TOKEN")
	}
	if err := checkWebConfig(webConfig, st.token != ""); err != nil {
		return nil, err
	}
	return st, nil
}

// connectActuator builds the Nomad and Prometheus clients and reads the
// Nomad server's version: what it supports decides whether leader
// election can work and whether Nomad guards a scale by the job modify
// index.
func connectActuator(ctx context.Context, st *actuatorStart, log *slog.Logger) (actuator.Options, error) {
	cfg := st.cfg
	addr := cfg.Nomad.AddressOr(os.Getenv("NOMAD_ADDR"))
	nomad, err := actuator.NewNomadAPI(addr, cfg.Nomad.Region, st.nomadToken, nil)
	if err != nil {
		return actuator.Options{}, err
	}
	nomad.Timeout = time.Duration(cfg.Nomad.Timeout)
	prom, err := actuator.NewPromReaderFromConfig(cfg.Prometheus)
	if err != nil {
		return actuator.Options{}, err
	}
	vctx, vcancel := context.WithTimeout(ctx, 10*time.Second)
	ver, verr := nomad.ServerVersion(vctx)
	vcancel()
	if verr != nil {
		log.Warn("could not read the Nomad server's version from /v1/agent/self (grant the token agent:read); assuming a current Nomad", "err", verr)
	} else {
		log.Info("nomad server", "version", ver.String(), "scale_guarded_by_index", ver.AtLeast(nomadver.ScaleIndexGuard))
		if cfg.Leader.Enabled {
			if err := actuator.CheckLeaderSupport(ver); err != nil {
				return actuator.Options{}, fmt.Errorf("%s: %w", st.file, err)
			}
		}
	}
	return actuator.Options{NomadVersion: ver, Nomad: nomad, Forecasts: prom, NomadAddress: addr, NomadToken: st.nomadToken, State: nomad}, nil
}

// startLeader starts leader election when the config enables it (the
// result says when the lock is released, after ctx ends); without it this
// replica always leads.
func startLeader(ctx context.Context, st *actuatorStart, opts *actuator.Options) (<-chan error, error) {
	cfg, metrics := st.cfg, opts.Metrics
	if !cfg.Leader.Enabled {
		metrics.IsLeader.Set(1)
		return nil, nil
	}
	lc, err := actuator.NewNomadAPI(opts.NomadAddress, cfg.Nomad.Region, st.nomadToken, nil)
	if err != nil {
		return nil, err
	}
	l := &actuator.Leader{Client: lc.C, Path: cfg.Leader.VariablePath, NS: cfg.Leader.Namespace, TTL: time.Duration(cfg.Leader.TTL), Log: opts.Log,
		OnChange: func(v bool) {
			if v {
				metrics.IsLeader.Set(1)
			} else {
				metrics.IsLeader.Set(0)
			}
		}}
	opts.IsLeader, opts.OtherLeads = l.IsLeader, l.OtherLeads
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	return done, nil
}

// warnConfig logs what the config allows but will not work as it reads
// (actuator.Config.Warnings), at start and at every reload.
func warnConfig(log *slog.Logger, c *actuator.Config) {
	for _, w := range c.Warnings() {
		log.Warn("config warning", "warning", w)
	}
}

// readSecret reads a secret from a file, trimming the trailing newline; an
// empty path gives "".
func readSecret(path, field string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s: %s is empty", field, path)
	}
	return s, nil
}

// reloadActuator reads and validates the config file and the secrets it
// names, and puts it in force. Settings read at start only (nomad,
// prometheus, leader) keep their old values; a change to them is logged.
func reloadActuator(file string, dryRun bool, started *actuator.Config, act *actuator.Actuator, hook *actuator.Webhook, log *slog.Logger) error {
	c, err := actuator.LoadConfig(file)
	if err != nil {
		return err
	}
	if dryRun {
		c.Global.DryRun = true
	}
	token, err := readSecret(c.Global.WebhookBearerTokenFile, "global.webhook_bearer_token_file")
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if c.Nomad != started.Nomad || !reflect.DeepEqual(c.Prometheus, started.Prometheus) || c.Leader != started.Leader {
		log.Warn("config reload: nomad, prometheus and leader settings take effect on restart only; the rest is reloaded", "file", file)
	}
	if err := act.Reload(c); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	hook.SetToken(token)
	warnConfig(log, c)
	log.Info("config reloaded", "file", file, "policies", len(c.Policies), "dry_run", c.Global.DryRun, "webhook_auth", token != "")
	return nil
}
