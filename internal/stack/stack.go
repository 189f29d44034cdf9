// Package stack starts the real Prometheus and Alertmanager processes that
// the demo and the end-to-end tests run against: on free loopback ports, with
// backfilled history, waiting until each is ready, and stopping them cleanly.
// It finds the binaries on PATH (Debian names included) or through the
// FLEETCAST_PROMETHEUS, FLEETCAST_PROMTOOL and FLEETCAST_ALERTMANAGER
// environment variables.
package stack

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrMissingBinary is returned, wrapped, when a binary cannot be found.
var ErrMissingBinary = errors.New("binary not found")

// Binary finds one of the tools: "prometheus", "promtool" or "alertmanager".
// The environment variable FLEETCAST_<NAME> wins; then PATH, where Debian's
// package calls Alertmanager prometheus-alertmanager.
func Binary(name string) (string, error) {
	env := "FLEETCAST_" + strings.ToUpper(name)
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%q: %w", env, p, ErrMissingBinary)
		}
		return p, nil
	}
	candidates := []string{name}
	if name == "alertmanager" {
		candidates = append(candidates, "prometheus-alertmanager")
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w on PATH (looked for %s); run 'make tools' to install it, or set %s to its path",
		name, ErrMissingBinary, strings.Join(candidates, ", "), env)
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free loopback port: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("release port %s: %w", addr, err)
	}
	return addr, nil
}

// Process is a running Prometheus or Alertmanager.
type Process struct {
	Name string // "prometheus" or "alertmanager"
	Addr string // host:port on loopback
	URL  string // http://Addr
	Dir  string // working directory: config, data and the log file
	Log  string // path of the combined stdout and stderr

	args []string
	bin  string
	cmd  *exec.Cmd
	done chan error
}

func (p *Process) start(ctx context.Context, readyTimeout time.Duration) error {
	logf, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open %s log: %w", p.Name, err)
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Dir = p.Dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	// The child dies with us even if we are killed, so nothing is left running.
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("start %s: %w", p.bin, err)
	}
	p.cmd = cmd
	p.done = make(chan error, 1)
	go func() {
		err := cmd.Wait()
		_ = logf.Close()
		p.done <- err
	}()
	if err := p.waitReady(ctx, readyTimeout); err != nil {
		_ = p.Stop()
		return fmt.Errorf("%s on %s did not become ready: %w\n--- last lines of %s ---\n%s", p.Name, p.Addr, err, p.Log, p.LogTail(20))
	}
	return nil
}

func (p *Process) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/-/ready", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-p.done:
			p.done <- err
			return fmt.Errorf("process exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// LogTail returns the last n lines the process wrote.
func (p *Process) LogTail(n int) string {
	b, err := os.ReadFile(p.Log)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Stop asks the process to terminate, and kills it after 10 seconds.
// Calling it again is harmless.
func (p *Process) Stop() error {
	if p == nil || p.cmd == nil || p.cmd.Process == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
	return nil
}

// Reload asks the process to reload its configuration (SIGHUP).
func (p *Process) Reload() error {
	if p.cmd == nil || p.cmd.Process == nil {
		return fmt.Errorf("%s is not running", p.Name)
	}
	return p.cmd.Process.Signal(syscall.SIGHUP)
}

// Restart stops and starts the process again on the same address and data.
func (p *Process) Restart(ctx context.Context) error {
	if err := p.Stop(); err != nil {
		return err
	}
	return p.start(ctx, 30*time.Second)
}

// StartProcess runs bin with args in dir, its output in dir/<name>.log, and
// waits until http://addr/-/ready answers 200. The demo starts fleetcast's
// own servers (the exporter, the actuator) this way, as a user runs them.
func StartProcess(ctx context.Context, name, dir, addr, bin string, args ...string) (*Process, error) {
	p := &Process{
		Name: name, Addr: addr, URL: "http://" + addr, Dir: dir,
		Log: filepath.Join(dir, name+".log"), bin: bin, args: args,
	}
	if err := p.start(ctx, 90*time.Second); err != nil {
		return nil, err
	}
	return p, nil
}

// Exited reports whether the process has ended on its own.
func (p *Process) Exited() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return true
	default:
		return false
	}
}

// PrometheusOptions says how to start Prometheus.
type PrometheusOptions struct {
	// Dir is where the config, the TSDB and the log go; it must exist.
	Dir string
	// Config is the text of prometheus.yml without rule_files and alerting,
	// which are added from RuleFiles and AlertmanagerURL. Empty means a
	// global section with 1s scrape and evaluation intervals.
	Config string
	// RuleFiles are copied into Dir and loaded.
	RuleFiles []string
	// AlertmanagerURL, if set, is where Prometheus sends alerts.
	AlertmanagerURL string
	// OpenMetrics, if set, is backfilled into the TSDB before start with
	// promtool tsdb create-blocks-from openmetrics. A missing "# EOF" is added.
	OpenMetrics string
	// Retention of the TSDB; 0 means 30 days, so 14 days of backfill stay.
	Retention time.Duration
}

// StartPrometheus backfills, configures and starts Prometheus on a free
// loopback port and waits until it is ready.
func StartPrometheus(ctx context.Context, o PrometheusOptions) (*Process, error) {
	bin, err := Binary("prometheus")
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(o.Dir, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dataDir, err)
	}
	if o.OpenMetrics != "" {
		if err := Backfill(ctx, o.Dir, dataDir, o.OpenMetrics); err != nil {
			return nil, err
		}
	}
	cfg := o.Config
	if strings.TrimSpace(cfg) == "" {
		cfg = "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
	}
	if len(o.RuleFiles) > 0 {
		cfg += "\nrule_files:\n"
		for i, rf := range o.RuleFiles {
			b, err := os.ReadFile(rf)
			if err != nil {
				return nil, fmt.Errorf("read rule file: %w", err)
			}
			dst := filepath.Join(o.Dir, fmt.Sprintf("rules-%d-%s", i, filepath.Base(rf)))
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				return nil, fmt.Errorf("copy rule file: %w", err)
			}
			cfg += fmt.Sprintf("  - %q\n", dst)
		}
	}
	if o.AlertmanagerURL != "" {
		host := strings.TrimPrefix(strings.TrimPrefix(o.AlertmanagerURL, "http://"), "https://")
		cfg += fmt.Sprintf("\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [%q]\n", strings.TrimSuffix(host, "/"))
	}
	cfgPath := filepath.Join(o.Dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, fmt.Errorf("write prometheus config: %w", err)
	}
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	ret := o.Retention
	if ret == 0 {
		ret = 30 * 24 * time.Hour
	}
	p := &Process{
		Name: "prometheus", Addr: addr, URL: "http://" + addr, Dir: o.Dir,
		Log: filepath.Join(o.Dir, "prometheus.log"), bin: bin,
		args: []string{
			"--config.file=" + cfgPath,
			"--storage.tsdb.path=" + dataDir,
			fmt.Sprintf("--storage.tsdb.retention.time=%dh", int(ret.Hours())),
			"--web.listen-address=" + addr,
			"--web.enable-lifecycle",
			// Rules start before Alertmanager discovery, so the first alert can
			// be dropped; the default 1m resend delay would then hold it back.
			"--rules.alert.resend-delay=1s",
			"--log.level=warn",
		},
	}
	if err := p.start(ctx, 60*time.Second); err != nil {
		return nil, err
	}
	return p, nil
}

// Backfill turns text (OpenMetrics, every sample with a timestamp) into TSDB
// blocks in dataDir with promtool. promtool reads its whole input once for
// every two-hour block it writes, so a long history costs the square of its
// length; Backfill therefore splits the text into one file per two-hour
// block (SplitOpenMetrics) and runs promtool on each, two at a time.
func Backfill(ctx context.Context, dir, dataDir, text string) error {
	promtool, err := Binary("promtool")
	if err != nil {
		return err
	}
	parts := SplitOpenMetrics(text, blockSeconds)
	partDir := filepath.Join(dir, "backfill")
	if err := os.MkdirAll(partDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", partDir, err)
	}
	files := make([]string, 0, len(parts))
	for i, part := range parts {
		f := filepath.Join(partDir, fmt.Sprintf("block-%04d.om", i))
		if err := os.WriteFile(f, []byte(part), 0o644); err != nil {
			return fmt.Errorf("write backfill file: %w", err)
		}
		files = append(files, f)
	}
	// Each part is its own promtool run: they write distinct blocks.
	sem := make(chan struct{}, 2)
	errs := make(chan error, len(files))
	for _, f := range files {
		sem <- struct{}{}
		go func(f string) {
			defer func() { <-sem }()
			cmd := exec.CommandContext(ctx, promtool, "tsdb", "create-blocks-from", "openmetrics", f, dataDir)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				errs <- fmt.Errorf("promtool tsdb create-blocks-from openmetrics %s: %w\n%s", f, err, out)
				return
			}
			errs <- nil
		}(f)
	}
	var first error
	for range files {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// blockSeconds is the span of the blocks promtool writes by default.
const blockSeconds = 2 * 3600

// SplitOpenMetrics splits an OpenMetrics exposition whose samples carry
// timestamps into one exposition per span of the given seconds (aligned to
// multiples of it, as TSDB blocks are), in time order, each ending in
// "# EOF". Every part repeats the metadata (# HELP, # TYPE, # UNIT) of the
// families it holds, and keeps the input's order, so families stay
// contiguous and each series' samples stay in time order. Samples without a
// timestamp go to the first part.
func SplitOpenMetrics(text string, span int64) []string {
	type part struct {
		b        strings.Builder
		lastMeta int // index of the metadata block last written, -1 none
	}
	parts := map[int64]*part{}
	var metaBlocks []string
	meta := -1      // the metadata block in force
	inMeta := false // the previous line was metadata
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		if line == "" || line == "# EOF" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			if !inMeta {
				cur.Reset()
			}
			cur.WriteString(line)
			cur.WriteByte('\n')
			inMeta = true
			continue
		}
		if inMeta {
			metaBlocks = append(metaBlocks, cur.String())
			meta = len(metaBlocks) - 1
			inMeta = false
		}
		key := int64(math.MinInt64)
		if ts, ok := sampleTimestamp(line); ok {
			key = int64(math.Floor(ts/float64(span))) * span
		}
		p := parts[key]
		if p == nil {
			p = &part{lastMeta: -1}
			parts[key] = p
		}
		if meta >= 0 && p.lastMeta != meta {
			p.b.WriteString(metaBlocks[meta])
			p.lastMeta = meta
		}
		p.b.WriteString(line)
		p.b.WriteByte('\n')
	}
	keys := make([]int64, 0, len(parts))
	for k := range parts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool { return keys[a] < keys[b] })
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, parts[k].b.String()+"# EOF\n")
	}
	return out
}

// sampleTimestamp returns the timestamp of an OpenMetrics sample line: the
// third whitespace-separated field after the name and labels, where labels
// may hold spaces inside quotes.
func sampleTimestamp(line string) (float64, bool) {
	rest := line
	if i := strings.IndexByte(line, '{'); i >= 0 {
		// Skip to the closing brace, minding quoted values.
		inQuote, esc := false, false
		j := i + 1
		for ; j < len(line); j++ {
			c := line[j]
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = inQuote
			case c == '"':
				inQuote = !inQuote
			case c == '}' && !inQuote:
				rest = line[j+1:]
				j = len(line)
			}
		}
	} else if k := strings.IndexByte(line, ' '); k >= 0 {
		rest = line[k:]
	}
	f := strings.Fields(rest)
	if len(f) < 2 {
		return 0, false
	}
	ts, err := strconv.ParseFloat(f[1], 64)
	if err != nil {
		return 0, false
	}
	return ts, true
}

// AlertmanagerOptions says how to start Alertmanager.
type AlertmanagerOptions struct {
	// Dir is where the config, the state and the log go; it must exist.
	Dir string
	// Config is the text of alertmanager.yml.
	Config string
}

// StartAlertmanager starts Alertmanager, without clustering, on a free
// loopback port and waits until it is ready.
func StartAlertmanager(ctx context.Context, o AlertmanagerOptions) (*Process, error) {
	bin, err := Binary("alertmanager")
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(o.Dir, "alertmanager.yml")
	if err := os.WriteFile(cfgPath, []byte(o.Config), 0o644); err != nil {
		return nil, fmt.Errorf("write alertmanager config: %w", err)
	}
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	p := &Process{
		Name: "alertmanager", Addr: addr, URL: "http://" + addr, Dir: o.Dir,
		Log: filepath.Join(o.Dir, "alertmanager.log"), bin: bin,
		args: []string{
			"--config.file=" + cfgPath,
			"--storage.path=" + filepath.Join(o.Dir, "am-data"),
			"--web.listen-address=" + addr,
			"--cluster.listen-address=",
			"--log.level=warn",
		},
	}
	if err := p.start(ctx, 60*time.Second); err != nil {
		return nil, err
	}
	return p, nil
}
