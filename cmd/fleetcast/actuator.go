package main

import (
	"context"
	"errors"
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

	"github.com/prometheus/exporter-toolkit/web"
	"gopkg.in/yaml.v3"

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
	listen := fs.String("web.listen-address", ":9811", "address to listen on for the webhook, metrics and health")
	webCfg := fs.String("web.config.file", "", "exporter-toolkit web config file for TLS, basic auth and client certificates")
	check := fs.Bool("check-config", false, "validate the configuration and exit")
	dryRun := fs.Bool("dry-run", false, "decide and log but change nothing (overrides global.dry_run)")
	drainFor := fs.Duration("shutdown.timeout", 30*time.Second, "on SIGTERM, how long in-flight requests and Nomad actions may take to finish; what is left is logged and the exit status is 1")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	log, err := lf.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast actuator: %v\n", err)
		return 2
	}
	cfg, err := actuator.LoadConfig(*cfgFile)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast actuator: %v\n", err)
		return 1
	}
	if *dryRun {
		cfg.Global.DryRun = true
	}
	token, err := readSecret(cfg.Global.WebhookBearerTokenFile, "global.webhook_bearer_token_file")
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast actuator: %s: %v\n", *cfgFile, err)
		return 1
	}
	nomadToken, err := readSecret(cfg.Nomad.TokenFile, "nomad.token_file")
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast actuator: %s: %v\n", *cfgFile, err)
		return 1
	}
	if nomadToken == "" {
		nomadToken = os.Getenv("NOMAD_TOKEN")
	}
	if err := checkWebConfig(*webCfg, token != ""); err != nil {
		fmt.Fprintf(stderr, "fleetcast actuator: %v\n", err)
		return 1
	}
	if *check {
		fmt.Fprintf(stdout, "%s: OK, %d policies (dry_run=%v)\n", *cfgFile, len(cfg.Policies), cfg.Global.DryRun)
		return 0
	}
	addr := cfg.Nomad.AddressOr(os.Getenv("NOMAD_ADDR"))
	nomad, err := actuator.NewNomadAPI(addr, cfg.Nomad.Region, nomadToken, nil)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast actuator: %v\n", err)
		return 1
	}
	nomad.Timeout = time.Duration(cfg.Nomad.Timeout)
	prom, err := actuator.NewPromReaderFromConfig(cfg.Prometheus)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast actuator: %v\n", err)
		return 1
	}
	// What the server supports decides whether leader election can work
	// and whether Nomad guards a scale by the job modify index.
	vctx, vcancel := context.WithTimeout(ctx, 10*time.Second)
	ver, verr := nomad.ServerVersion(vctx)
	vcancel()
	if verr != nil {
		log.Warn("could not read the Nomad server's version from /v1/agent/self (grant the token agent:read); assuming a current Nomad", "err", verr)
	} else {
		log.Info("nomad server", "version", ver.String(), "scale_guarded_by_index", ver.AtLeast(nomadver.ScaleIndexGuard))
		if cfg.Leader.Enabled {
			if err := actuator.CheckLeaderSupport(ver); err != nil {
				fmt.Fprintf(stderr, "fleetcast actuator: %s: %v\n", *cfgFile, err)
				return 1
			}
		}
	}
	ln, err := bindListen(*listen)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast actuator: %v\n", err)
		return 1
	}
	metrics := actuator.NewMetrics()
	opts := actuator.Options{Config: cfg, NomadVersion: ver, Nomad: nomad, Forecasts: prom, Metrics: metrics, NomadAddress: addr, NomadToken: nomadToken, State: nomad,
		Audit: slog.New(slog.NewJSONHandler(stdout, nil)).With("log", "audit"), Log: log}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var leaderDone chan error
	if cfg.Leader.Enabled {
		lc, err := actuator.NewNomadAPI(addr, cfg.Nomad.Region, nomadToken, nil)
		if err != nil {
			fmt.Fprintf(stderr, "fleetcast actuator: %v\n", err)
			return 1
		}
		l := &actuator.Leader{Client: lc.C, Path: cfg.Leader.VariablePath, NS: cfg.Leader.Namespace, TTL: time.Duration(cfg.Leader.TTL), Log: log,
			OnChange: func(v bool) {
				if v {
					metrics.IsLeader.Set(1)
				} else {
					metrics.IsLeader.Set(0)
				}
			}}
		opts.IsLeader, opts.OtherLeads = l.IsLeader, l.OtherLeads
		leaderDone = make(chan error, 1)
		go func() { leaderDone <- l.Run(ctx) }()
	} else {
		metrics.IsLeader.Set(1)
	}
	act, err := actuator.New(opts)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast actuator: %v\n", err)
		return 1
	}
	defer act.Close()
	// Gives nodes their eligibility back after a migration's overload
	// window, also when the process that migrated them is gone.
	go act.RunSweeper(ctx, time.Minute)
	hook := &actuator.Webhook{A: act, Token: token, Log: log}
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
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-hup:
				_ = hook.Reload()
			case <-ctx.Done():
				return
			}
		}
	}()
	srv := &http.Server{Handler: hook.Handler(nil), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() {
		errc <- web.Serve(ln, srv, &web.FlagConfig{WebConfigFile: webCfg}, log)
	}()
	log.Info("fleetcast actuator started", "listen", *listen, "config", *cfgFile, "policies", len(cfg.Policies),
		"dry_run", cfg.Global.DryRun, "nomad", addr, "prometheus", cfg.Prometheus.URL, "leader_election", cfg.Leader.Enabled,
		"webhook_auth", token != "", "nomad_token_set", nomadToken != "")
	code := 0
	select {
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("web server failed", "err", err)
			code = 1
		}
	case <-ctx.Done():
		log.Info("shutting down")
	}
	// A bounded drain: no new requests, in-flight ones (and the Nomad
	// actions they run) get --shutdown.timeout; what is still running then
	// is named in the audit log, and the exit status says so.
	sctx, cancel := context.WithTimeout(context.Background(), *drainFor)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown: requests still running", "err", err)
	}
	if left := act.Drain(sctx); left > 0 {
		log.Error("shut down with actions in flight; their outcome is unknown (see the audit log's intent lines)", "actions", left)
		code = 1
	}
	stop()
	if leaderDone != nil {
		if err := <-leaderDone; err != nil {
			log.Warn("leader lock release", "err", err)
		}
	}
	return code
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
	log.Info("config reloaded", "file", file, "policies", len(c.Policies), "dry_run", c.Global.DryRun, "webhook_auth", token != "")
	return nil
}

// checkWebConfig validates an exporter-toolkit web config file (TLS files,
// basic auth hashes) before serving, and refuses basic auth together with
// the webhook bearer token: both ride the one Authorization header, so
// every request would be refused by one of them.
func checkWebConfig(path string, bearer bool) error {
	if path == "" {
		return nil
	}
	if err := web.Validate(path); err != nil {
		return fmt.Errorf("--web.config.file %s: %w", path, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--web.config.file: %w", err)
	}
	var wc struct {
		BasicAuthUsers map[string]string `yaml:"basic_auth_users"`
	}
	if err := yaml.Unmarshal(b, &wc); err != nil {
		return fmt.Errorf("--web.config.file %s: %w", path, err)
	}
	if bearer && len(wc.BasicAuthUsers) > 0 {
		return fmt.Errorf("--web.config.file %s has basic_auth_users and global.webhook_bearer_token_file is set: "+
			"Alertmanager sends one Authorization header, so every request would get 401; use one of the two "+
			"(Alertmanager's http_config: basic_auth or authorization)", path)
	}
	return nil
}
