package main

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fleetcast/fleetcast/exporter"
	"github.com/fleetcast/fleetcast/internal/stack"
)

const benchExporterAbout = `Measures the exporter against a real Prometheus: backfills --series series of
--days days at --step with promtool, starts Prometheus on loopback, then times
the exporter's first load, a steady-state cycle (incremental query + refit of
every series + publish) and a /metrics scrape, and reports resident memory.
The issue's target is 10,000 series of 14 days at 5m; backfilling that takes
a while, so the default is smaller.`

const benchExporterExample = `fleetcast bench exporter
fleetcast bench exporter --series=10000 --days=14 --step=5m`

func runBenchExporter(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench exporter", benchExporterAbout, benchExporterExample, stderr)
	nSeries := fs.Int("series", 1000, "number of series")
	days := fs.Int("days", 14, "days of history")
	stepStr := fs.String("step", "5m", "sampling step")
	workers := fs.Int("workers", 0, "fit workers (0: GOMAXPROCS)")
	steady := fs.Int("cycles", 2, "steady-state cycles to time (at most 2: the backfilled history stops at its end)")
	refit := fs.String("refit", "", "the target's refit interval (default: every cycle, the worst case)")
	dataDir := fs.String("data-dir", "", "keep the backfilled TSDB here and reuse it when it holds the same --series, --days and --step (default: a temporary directory, removed)")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	step, err := time.ParseDuration(*stepStr)
	if err != nil || step < time.Second || *nSeries < 1 || *days < 1 || *steady < 1 || *steady > 2 {
		fmt.Fprintln(stderr, "fleetcast bench exporter: want --series >= 1, --days >= 1, --cycles 1 or 2 and --step >= 1s")
		return 2
	}
	if *refit == "" {
		*refit = step.String()
	}
	if err := benchExporter(stdout, *nSeries, *days, step, *workers, *steady, *dataDir, *refit); err != nil {
		fmt.Fprintf(stderr, "fleetcast bench exporter: %v\n", err)
		return 1
	}
	return 0
}

func benchExporter(w io.Writer, nSeries, days int, step time.Duration, workers, cycles int, dir, refit string) error {
	ctx := context.Background()
	if dir == "" {
		d, err := os.MkdirTemp("", "fleetcast-bench-exporter-")
		if err != nil {
			return err
		}
		dir = d
		defer func() { _ = os.RemoveAll(dir) }()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	stepS := int64(step / time.Second)
	points := int64(days) * 86400 / stepS
	fmt.Fprintf(w, "series: %d × %d points (%d days at %s) = %d samples\n", nSeries, points, days, step, int64(nSeries)*points)
	marker := filepath.Join(dir, "backfilled")
	want := fmt.Sprintf("%d %d %d", nSeries, days, stepS)
	var end int64
	if b, err := os.ReadFile(marker); err == nil {
		var got string
		if _, err := fmt.Sscanf(string(b), "%d", &end); err == nil {
			got = strings.TrimSpace(strings.SplitN(string(b), " ", 2)[1])
		}
		if got != want {
			return fmt.Errorf("--data-dir %s holds another backfill (%q); use an empty directory", dir, b)
		}
		fmt.Fprintf(w, "backfill: reusing %s (history ends %s)\n", dir, time.Unix(end, 0).UTC().Format(time.RFC3339))
	} else {
		end = time.Now().Unix() / stepS * stepS
		if err := backfillBench(ctx, w, dir, nSeries, points, stepS, end); err != nil {
			return err
		}
		if err := os.WriteFile(marker, []byte(fmt.Sprintf("%d %s", end, want)), 0o644); err != nil {
			return err
		}
	}

	t0 := time.Now()
	prom, err := stack.StartPrometheus(ctx, stack.PrometheusOptions{Dir: dir, Retention: 100 * 24 * time.Hour})
	if err != nil {
		return err
	}
	defer func() { _ = prom.Stop() }()
	fmt.Fprintf(w, "prometheus ready: %s\n", time.Since(t0).Round(time.Millisecond))
	return benchCycles(ctx, w, prom.URL, dir, step, days, workers, cycles, end, refit)
}

// backfillBench writes the history into dir/data.
func backfillBench(ctx context.Context, w io.Writer, dir string, nSeries int, points, stepS, end int64) error {
	// Backfill. promtool (2.42) re-reads its whole input once per 2-hour
	// block, so one file of 14 days is read 168 times; one file per block
	// window is read once. The files are streamed: the full size does not
	// fit in memory.
	promtool, err := stack.Binary("promtool")
	if err != nil {
		return err
	}
	dataDir := filepath.Join(dir, "data")
	var genDur, toolDur time.Duration
	const block = 2 * 3600
	oldest := end - (points-1)*stepS
	nFiles := 0
	for ws := oldest / block * block; ws <= end; ws += block {
		t0 := time.Now()
		src := filepath.Join(dir, "history.om")
		if err := writeBenchHistory(src, nSeries, max(ws, oldest), min(ws+block-1, end), stepS); err != nil {
			return err
		}
		genDur += time.Since(t0)
		t0 = time.Now()
		cmd := exec.CommandContext(ctx, promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", src, dataDir)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("promtool: %w\n%s", err, out)
		}
		toolDur += time.Since(t0)
		nFiles++
	}
	_ = os.Remove(filepath.Join(dir, "history.om"))
	fmt.Fprintf(w, "backfill: write OpenMetrics %s, promtool create-blocks-from openmetrics %s (%d files, one per 2h block)\n",
		genDur.Round(time.Millisecond), toolDur.Round(time.Millisecond), nFiles)

	return nil
}

// benchCycles times the exporter against the Prometheus at url. The
// exporter's clock starts at the end of the history and moves one step per
// steady cycle, as a refresh every step would see it; the history has no
// samples after its end, so after two more steps the series would vanish.
func benchCycles(ctx context.Context, w io.Writer, url, dir string, step time.Duration, days, workers, cycles int, end int64, refit string) error {
	var mu sync.Mutex
	clock := time.Unix(end, 0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	cfg, err := exporter.ParseConfig([]byte(fmt.Sprintf(`prometheus:
  url: %s
  timeout: 5m
fit:
  workers: %d
targets:
  - name: bench
    query: bench_demand
    step: %s
    history: %dd
    horizons: [15m, 1h, 6h, 24h]
    quantiles: [0.1, 0.5, 0.9]
    peak_windows: [6h, 24h]
    refresh: %s
    refit: %s
`, url, workers, step, days, step, refit)), dir)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	q, err := exporter.NewPrometheusQuerier(cfg.Prometheus, logger)
	if err != nil {
		return err
	}
	exp, err := exporter.New(exporter.Options{Config: cfg, Querier: q, Logger: logger, Now: now})
	if err != nil {
		return err
	}

	t0 := time.Now()
	if err := exp.CycleAll(ctx); err != nil {
		return fmt.Errorf("first load: %w", err)
	}
	first := time.Since(t0)
	fmt.Fprintf(w, "first load (range queries in chunks + fit of every series + publish): %s   (target < 5m)\n", first.Round(time.Millisecond))
	fmt.Fprintf(w, "rss after first load: %s\n", rss())

	var durs []time.Duration
	for range cycles {
		mu.Lock()
		clock = clock.Add(step)
		mu.Unlock()
		t0 = time.Now()
		if err := exp.CycleAll(ctx); err != nil {
			return fmt.Errorf("steady cycle: %w", err)
		}
		durs = append(durs, time.Since(t0))
	}
	fmt.Fprintf(w, "steady cycle (incremental query + refit + publish), refit %s, %d runs: %s   (target < 60s)\n",
		refit, len(durs), durs)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: exp.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	defer func() { _ = srv.Close() }()
	var scrapes []time.Duration
	var size int64
	for range 5 {
		t0 = time.Now()
		resp, err := http.Get("http://" + l.Addr().String() + "/metrics")
		if err != nil {
			return err
		}
		size, err = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return err
		}
		scrapes = append(scrapes, time.Since(t0))
	}
	sort.Slice(scrapes, func(i, j int) bool { return scrapes[i] < scrapes[j] })
	fmt.Fprintf(w, "scrape /metrics: median %s, max %s, %d bytes uncompressed   (target < 1s)\n",
		scrapes[len(scrapes)/2].Round(time.Millisecond), scrapes[len(scrapes)-1].Round(time.Millisecond), size)
	fmt.Fprintf(w, "rss: %s   (target < 2 GiB)\n", rss())
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(w, "live heap after a GC: %d MiB (GOMEMLIMIT=%s)\n", ms.HeapAlloc>>20, cmp.Or(os.Getenv("GOMEMLIMIT"), "unset"))
	return nil
}

// writeBenchHistory writes n series of a daily and weekly pattern with
// noise over [from, to] on the step grid, one series after the other.
func writeBenchHistory(path string, n int, from, to, step int64) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if _, err := bw.WriteString("# HELP bench_demand Synthetic demand.\n# TYPE bench_demand gauge\n"); err != nil {
		return err
	}
	var line []byte
	for i := range n {
		base := 50 + float64(i%97)
		inst := fmt.Sprintf(`bench_demand{instance="node-%05d",job="bench"} `, i)
		for ts := (from + step - 1) / step * step; ts <= to; ts += step {
			v := base + 20*math.Sin(2*math.Pi*float64(ts%86400)/86400) + 5*math.Sin(2*math.Pi*float64(ts%604800)/604800) + 2*math.Sin(float64(ts)*0.37+float64(i))
			line = append(line[:0], inst...)
			line = fmt.Appendf(line, "%.2f %d\n", v, ts)
			if _, err := bw.Write(line); err != nil {
				return err
			}
		}
	}
	if _, err := bw.WriteString("# EOF\n"); err != nil {
		return err
	}
	return bw.Flush()
}

// rss reports this process's resident and peak resident memory.
func rss() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	var cur, peak string
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			cur = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			peak = strings.TrimSpace(v)
		}
	}
	return fmt.Sprintf("%s (peak %s)", cur, peak)
}
