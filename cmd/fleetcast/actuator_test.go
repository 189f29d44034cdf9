package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetcast/fleetcast/internal/stack"
	"github.com/fleetcast/fleetcast/internal/testenv"
	"github.com/fleetcast/fleetcast/sim"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestActuatorCommandServes runs the command for real against the
// simulator: it answers the webhook, and the Nomad token never shows in
// its output.
func TestActuatorCommandServes(t *testing.T) {
	const secret = "nomad-secret-0f9a7c"
	scfg, err := sim.ParseConfig([]byte(`acl_token: `+secret+`
node_pools: [{name: default, cpu_mhz: 4000, memory_mb: 8192, count: 2, max: 4}]
jobs: [{id: web, groups: [{name: web, count: 2, cpu: 500, memory_mb: 256, demand: {base_mhz: 500}}]}]
`), "fleet.yml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := sim.New(scfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	nomad := httptest.NewServer(f.Handler())
	defer nomad.Close()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tokenFile := write("nomad-token", secret+"\n")
	hookToken := write("hook-token", "hook\n")
	cfg := write("actuator.yml", fmt.Sprintf(`global: {webhook_bearer_token_file: %s}
nomad: {address: %s, token_file: %s}
policies:
  - name: web
    match: {alertname: [JobPredictedSaturation]}
    action: scale_group
    scale_group: {min: 1, max: 4, max_step: 1}
`, hookToken, nomad.URL, tokenFile))
	addr, err := stack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr lockedBuf
	done := make(chan int, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		done <- serveActuator(ctx, []string{"--config.file", cfg, "--web.listen-address", addr, "--log.level", "debug"}, &stdout, &stderr)
	}()
	base := "http://" + addr
	testenv.Eventually(t, 10*time.Second, "the actuator ready", httpOK(base+"/-/ready", &stderr))
	body := `{"version":"4","status":"firing","alerts":[{"status":"firing","fingerprint":"f1","startsAt":"2026-11-27T00:00:00Z",
	  "labels":{"alertname":"JobPredictedSaturation","namespace":"default","job":"web","task_group":"web"}}]}`
	req, _ := http.NewRequest(http.MethodPost, base+"/webhook", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer hook")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	// What SIGTERM does to the command (runActuator turns it into this).
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("did not stop when cancelled")
	}
	if resp.StatusCode != 200 || !strings.Contains(stdout.String(), `"result":"acted"`) {
		t.Fatalf("webhook %d; audit:\n%s\nlog:\n%s", resp.StatusCode, stdout.String(), stderr.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), secret) {
		t.Fatal("the Nomad token appears in the output")
	}
	if !strings.Contains(stderr.String(), "nomad_token_set=true") {
		t.Fatalf("start line does not say a token is set:\n%s", stderr.String())
	}
}

// TestActuatorRefusesLeaderOnOldNomad: leader election locks a Nomad
// variable, which Nomad 1.6 cannot; the command says so and does not start,
// instead of answering every alert not_leader.
func TestActuatorRefusesLeaderOnOldNomad(t *testing.T) {
	for _, c := range []struct {
		version string
		refuse  bool
	}{{"1.6.0", true}, {"1.7.0", false}} {
		scfg, err := sim.ParseConfig([]byte(`nomad_version: "`+c.version+`"
node_pools: [{name: default, cpu_mhz: 4000, memory_mb: 8192, count: 1}]
`), "fleet.yml")
		if err != nil {
			t.Fatal(err)
		}
		f, err := sim.New(scfg, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		nomad := httptest.NewServer(f.Handler())
		cfg := filepath.Join(t.TempDir(), "actuator.yml")
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`nomad: {address: %s}
leader: {enabled: true, ttl: 3s}
policies:
  - {name: web, match: {alertname: [X]}, action: scale_group, scale_group: {min: 1, max: 4, max_step: 1}}
`, nomad.URL)), 0o600); err != nil {
			t.Fatal(err)
		}
		addr, err := stack.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		var stdout, stderr lockedBuf
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		code := serveActuator(ctx, []string{"--config.file", cfg, "--web.listen-address", addr}, &stdout, &stderr)
		cancel()
		nomad.Close()
		refused := code == 1 && strings.Contains(stderr.String(), "needs Nomad 1.7.0 or later; the server is 1.6.0")
		if refused != c.refuse {
			t.Errorf("Nomad %s: exit %d, refused %v, want %v\n%s", c.version, code, refused, c.refuse, stderr.String())
		}
	}
}

// TestActuatorDrainsOnSIGTERM: a stop while Nomad is slow to answer a
// scale. The audit log holds the intent written before the write, and the
// bounded drain names the action it left unfinished and exits 1.
func TestActuatorDrainsOnSIGTERM(t *testing.T) {
	scfg, err := sim.ParseConfig([]byte(`node_pools: [{name: default, cpu_mhz: 4000, memory_mb: 8192, count: 2, max: 4}]
jobs: [{id: web, groups: [{name: web, count: 2, cpu: 500, memory_mb: 256, demand: {base_mhz: 500}}]}]
`), "fleet.yml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := sim.New(scfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h := f.Handler()
	release := make(chan struct{})
	nomad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && strings.HasSuffix(r.URL.Path, "/scale") {
			select { // a slow Nomad write
			case <-release:
			case <-time.After(10 * time.Second):
			}
		}
		h.ServeHTTP(w, r)
	}))
	defer nomad.Close()
	defer close(release) // before the server closes, which waits for the held write
	cfg := filepath.Join(t.TempDir(), "actuator.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`nomad: {address: %s}
policies:
  - {name: web, match: {alertname: [JobPredictedSaturation]}, action: scale_group, scale_group: {min: 1, max: 4, max_step: 1}}
`, nomad.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, err := stack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr lockedBuf
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- serveActuator(ctx, []string{"--config.file", cfg, "--web.listen-address", addr, "--shutdown.timeout", "300ms"}, &stdout, &stderr)
	}()
	testenv.Eventually(t, 10*time.Second, "the actuator ready", httpOK("http://"+addr+"/-/ready", &stderr))
	body := `{"version":"4","status":"firing","alerts":[{"status":"firing","fingerprint":"f1","startsAt":"2026-11-27T00:00:00Z",
	  "labels":{"alertname":"JobPredictedSaturation","namespace":"default","job":"web","task_group":"web"}}]}`
	go func() {
		if resp, err := http.Post("http://"+addr+"/webhook", "application/json", strings.NewReader(body)); err == nil {
			_ = resp.Body.Close()
		}
	}()
	testenv.Eventually(t, 10*time.Second, "an intent line before the Nomad write", func() error {
		if audit := stdout.String(); !strings.Contains(audit, `"msg":"intent"`) {
			return fmt.Errorf("none yet; audit:\n%s\nlog:\n%s", audit, stderr.String())
		}
		return nil
	})
	cancel() // SIGTERM
	select {
	case code := <-done:
		if code != 1 || !strings.Contains(stdout.String(), "shutting down with an action in flight") ||
			!strings.Contains(stdout.String(), `"object":"group/default/web/web"`) {
			t.Fatalf("exit %d\naudit:\n%s\nlog:\n%s", code, stdout.String(), stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the drain is not bounded")
	}
}

// httpOK is a testenv.Eventually condition: url answers 200. Its error
// carries the command's log so far, so a command that never gets ready
// says why.
func httpOK(url string, log *lockedBuf) func() error {
	return func() error {
		resp, err := http.Get(url)
		if err != nil {
			return fmt.Errorf("%w\nlog:\n%s", err, log.String())
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: status %d\nlog:\n%s", url, resp.StatusCode, log.String())
		}
		return nil
	}
}

// TestActuatorReload: SIGHUP and POST /-/reload read the config again. A
// bad config is refused and logged, the old one stays and the gauge says
// 0; a good one is put in force (here dry_run turns on) and the gauge says 1.
func TestActuatorReload(t *testing.T) {
	scfg, err := sim.ParseConfig([]byte(`node_pools: [{name: default, cpu_mhz: 4000, memory_mb: 8192, count: 2, max: 4}]
jobs: [{id: web, groups: [{name: web, count: 2, cpu: 500, memory_mb: 256, demand: {base_mhz: 500}}]}]
`), "fleet.yml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := sim.New(scfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	nomad := httptest.NewServer(f.Handler())
	defer nomad.Close()
	cfg := filepath.Join(t.TempDir(), "actuator.yml")
	write := func(dry string) {
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`global: {dry_run: %s}
nomad: {address: %s}
policies:
  - {name: web, match: {alertname: [JobPredictedSaturation]}, action: scale_group, scale_group: {min: 1, max: 4, max_step: 1, cooldown: 1s}}
`, dry, nomad.URL)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("false")
	srv := serveInTest(t, serveActuator, cfg, "/-/ready")
	base := srv.base
	gauge := func() string {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "fleetcast_actuator_config_last_reload_successful ") {
				return strings.TrimPrefix(l, "fleetcast_actuator_config_last_reload_successful ")
			}
		}
		return "missing"
	}
	// A broken file and SIGHUP: still running, old config, gauge 0.
	if err := os.WriteFile(cfg, []byte("policies: [{name: web, action: scale_group}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.badReloadBySIGHUP(t)
	if g := gauge(); g != "0" {
		t.Fatalf("reload_successful %s after a bad config, want 0", g)
	}
	post := func(path, body string) (int, string) {
		resp, err := http.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	alertBody := func(fp string) string {
		return `{"version":"4","status":"firing","alerts":[{"status":"firing","fingerprint":"` + fp + `","startsAt":"2026-11-27T00:00:00Z",
	  "labels":{"alertname":"JobPredictedSaturation","namespace":"default","job":"web","task_group":"web"}}]}`
	}
	if code, body := post("/webhook", alertBody("f1")); code != 200 || !strings.Contains(body, `"result":"acted"`) {
		t.Fatalf("the old config (not a dry run) should act: %d %s", code, body)
	}
	// A good file through POST /-/reload: dry run from now on.
	write("true")
	if code, body := post("/-/reload", ""); code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	if g := gauge(); g != "1" {
		t.Fatalf("reload_successful %s after a good config", g)
	}
	time.Sleep(1100 * time.Millisecond) // the 1s cooldown
	if code, body := post("/webhook", alertBody("f2")); code != 200 || !strings.Contains(body, `"result":"dry_run"`) {
		t.Fatalf("the reloaded config is a dry run: %d %s", code, body)
	}
	if err := os.WriteFile(cfg, []byte("nonsense: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body := post("/-/reload", ""); code != 500 || !strings.Contains(body, "failed to reload config") {
		t.Fatalf("bad reload over HTTP: %d %s", code, body)
	}
	srv.stop(t, 15*time.Second)
}
