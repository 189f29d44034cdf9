package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"gopkg.in/yaml.v3"
)

// webFlags are the serving flags of every long-running command (exporter,
// actuator, sim), spelt as Prometheus and exporter-toolkit spell them:
// --web.listen-address, --web.config.file, --web.systemd-socket, and
// --shutdown.timeout, the bound on draining at SIGTERM.
type webFlags struct {
	listen, config *string
	systemd        *bool
	drain          *time.Duration
}

// register adds the flags to fs with the command's port and drain bound;
// served and drained say, in the help, what is served and what a drain
// waits for.
func (w *webFlags) register(fs *flag.FlagSet, addr, served string, drain time.Duration, drained string) {
	w.listen = fs.String("web.listen-address", addr, "address to serve "+served+" on")
	w.config = fs.String("web.config.file", "", "exporter-toolkit web configuration file for TLS, basic auth and client certificates")
	w.systemd = fs.Bool("web.systemd-socket", false, "use the sockets systemd socket activation hands over instead of --web.listen-address (Linux only)")
	w.drain = fs.Duration("shutdown.timeout", drain, "on SIGTERM, how long "+drained+" may take to finish")
}

// bind binds --web.listen-address before the command starts any work, so a
// port in use ends it with one error naming the flag instead of a server
// that looks down. With --web.systemd-socket it binds nothing (nil): the
// sockets are systemd's, taken when serving starts.
func (w *webFlags) bind() (net.Listener, error) {
	if *w.systemd {
		return nil, nil
	}
	return bindListen(*w.listen)
}

// address is what the start line logs as the listen address.
func (w *webFlags) address() string {
	if *w.systemd {
		return "systemd sockets"
	}
	return *w.listen
}

// serve serves srv on ln (or on systemd's sockets when ln is nil) with TLS
// and basic auth from --web.config.file, until ctx ends or serving fails.
// Then it stops taking requests and lets those in flight finish within
// --shutdown.timeout, and calls drained, if set, with what is left of that
// bound and the server's shutdown error, for whatever else the command
// must stop; drained reports whether everything finished. The result is the
// exit status: 1 when serving failed or drained says something did not
// finish.
func (w *webFlags) serve(ctx context.Context, ln net.Listener, srv *http.Server, log *slog.Logger, drained func(ctx context.Context, shutdownErr error) bool) int {
	errc := make(chan error, 1)
	go func() {
		if ln == nil {
			errc <- web.ListenAndServe(srv, &web.FlagConfig{WebSystemdSocket: w.systemd, WebConfigFile: w.config}, log)
			return
		}
		errc <- web.Serve(ln, srv, &web.FlagConfig{WebConfigFile: w.config}, log)
	}()
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
	sctx, cancel := context.WithTimeout(context.Background(), *w.drain)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		log.Warn("shutdown: requests still running", "err", err)
	}
	if drained != nil && !drained(sctx, err) {
		code = 1
	}
	return code
}

// checkWebConfig validates an exporter-toolkit web config file (TLS files,
// basic auth hashes) before serving, so --check-config catches a bad one.
// With bearer (the actuator's webhook token is set) it refuses basic auth
// too: both ride the one Authorization header, so every request would be
// refused by one of them.
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
