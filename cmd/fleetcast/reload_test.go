package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetcast/fleetcast/internal/stack"
	"github.com/fleetcast/fleetcast/internal/testenv"
)

// emptyProm answers every query with no data, which is all a reload test needs.
func emptyProm() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		typ := "vector"
		if strings.HasSuffix(r.URL.Path, "query_range") {
			typ = "matrix"
		}
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":%q,"result":[]}}`, typ)
	}))
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// served is a long-running subcommand started by a test on a free
// loopback port.
type served struct {
	base   string
	stderr *lockedBuf
	cancel context.CancelFunc
	done   chan int
}

// serveInTest runs serve with cfg as --config.file on a free port and
// waits until path answers 200.
func serveInTest(t *testing.T, serve func(context.Context, []string, io.Writer, io.Writer) int, cfg, path string) *served {
	t.Helper()
	addr, err := stack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := &served{base: "http://" + addr, stderr: &lockedBuf{}, cancel: cancel, done: make(chan int, 1)}
	go func() {
		s.done <- serve(ctx, []string{"--config.file", cfg, "--web.listen-address", addr}, io.Discard, s.stderr)
	}()
	testenv.Eventually(t, 10*time.Second, s.base+path+" answers 200", httpOK(s.base+path, s.stderr))
	return s
}

// badReloadBySIGHUP sends SIGHUP to the test process (the command's
// reload signal) and waits for the command to log that the reload failed.
func (s *served) badReloadBySIGHUP(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "reload failure logged", func() error {
		if log := s.stderr.String(); !strings.Contains(log, "config reload failed") {
			return fmt.Errorf("no %q in the log:\n%s", "config reload failed", log)
		}
		return nil
	})
}

// stop cancels the command and wants it to exit 0 within d.
func (s *served) stop(t *testing.T, d time.Duration) {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.done:
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, s.stderr.String())
		}
	case <-time.After(d):
		t.Fatal("did not stop")
	}
}

// TestExporterReload: SIGHUP with a broken config keeps the exporter up on
// the old config (gauge 0); POST /-/reload with a good one brings the new
// targets in after their first cycle (gauge 1).
func TestExporterReload(t *testing.T) {
	prom := emptyProm()
	defer prom.Close()
	cfg := filepath.Join(t.TempDir(), "fleetcast.yml")
	write := func(targets ...string) {
		text := "prometheus: {url: " + prom.URL + "}\ntargets:\n"
		for _, n := range targets {
			text += "  - {name: " + n + ", query: 'sum(rate(x[5m]))', step: 1m, history: 1h, refresh: 1h}\n"
		}
		if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("first")
	srv := serveInTest(t, serveExporter, cfg, "/-/healthy")
	base := srv.base
	metrics := func() string { return scrape(t, base+"/metrics") }
	if m := metrics(); !strings.Contains(m, "fleetcast_exporter_config_last_reload_successful 1") {
		t.Fatalf("no reload gauge at start:\n%s", m)
	}
	if err := os.WriteFile(cfg, []byte("targets: [{name: broken}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.badReloadBySIGHUP(t)
	if m := metrics(); !strings.Contains(m, "fleetcast_exporter_config_last_reload_successful 0") || !strings.Contains(m, `target="first"`) {
		t.Fatalf("after a bad reload: want gauge 0 and the old target:\n%s", m)
	}
	write("first", "second")
	resp, err := http.Post(base+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("reload: %d", resp.StatusCode)
	}
	testenv.Eventually(t, 10*time.Second, "the new target served", func() error {
		if m := metrics(); !strings.Contains(m, `target="second"`) {
			return fmt.Errorf("no target=\"second\" in /metrics:\n%s", m)
		}
		return nil
	})
	if m := metrics(); !strings.Contains(m, "fleetcast_exporter_config_last_reload_successful 1") {
		t.Fatalf("after a good reload:\n%s", m)
	}
	srv.stop(t, 15*time.Second)
}

// TestSimReload: SIGHUP with a broken file keeps the running fleet (gauge
// 0); POST /-/reload with a good one starts the fleet anew from it.
func TestSimReload(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "fleet.yml")
	write := func(nodes int) {
		text := fmt.Sprintf("node_pools: [{name: default, cpu_mhz: 4000, memory_mb: 8192, count: %d, max: 9}]\n", nodes)
		if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(2)
	srv := serveInTest(t, serveSim, cfg, "/-/healthy")
	base := srv.base
	nodes := func() int { return strings.Count(scrape(t, base+"/v1/nodes"), `"ID"`) }
	if n := nodes(); n != 2 {
		t.Fatalf("%d nodes at start", n)
	}
	if err := os.WriteFile(cfg, []byte("node_pools: [{name: default}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.badReloadBySIGHUP(t)
	if m := scrape(t, base+"/metrics"); !strings.Contains(m, "fleetcast_sim_config_last_reload_successful 0") || nodes() != 2 {
		t.Fatalf("after a bad reload: %d nodes\n%s", nodes(), m)
	}
	write(3)
	resp, err := http.Post(base+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || nodes() != 3 {
		t.Fatalf("reload: %d, %d nodes", resp.StatusCode, nodes())
	}
	if m := scrape(t, base+"/metrics"); !strings.Contains(m, "fleetcast_sim_config_last_reload_successful 1") || !strings.Contains(m, "nomad_client_") {
		t.Fatalf("after a good reload:\n%s", m)
	}
	srv.stop(t, 10*time.Second)
}
