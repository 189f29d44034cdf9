package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// The demo runs the configs of examples/ as they are, with only the
// addresses pointed at what it started on loopback and the waits made short
// enough for a story of minutes. Each rewrite below says what it changes.

func readYAML(path string) (*yaml.Node, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: want a YAML mapping at the top", path)
	}
	return &doc, nil
}

func writeYAML(doc *yaml.Node, path string) error {
	b, err := yaml.Marshal(doc)
	if err != nil {
		return fmt.Errorf("render %s: %w", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// child returns the value under key of a mapping node, creating it (as a
// mapping) when create is set.
func child(m *yaml.Node, key string, create bool) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	if !create {
		return nil
	}
	v := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
	return v
}

// set puts a scalar at a path of keys under m, creating the mappings on the way.
func set(m *yaml.Node, value string, keys ...string) {
	for _, k := range keys[:len(keys)-1] {
		m = child(m, k, true)
	}
	last := keys[len(keys)-1]
	// No tag: YAML resolves "false" to a bool and "5s" to a string, as if
	// written by hand.
	if v := child(m, last, false); v != nil {
		*v = yaml.Node{Kind: yaml.ScalarNode, Value: value}
		return
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: last},
		&yaml.Node{Kind: yaml.ScalarNode, Value: value})
}

// exporterConfig points examples/fleetcast.yml at the demo's Prometheus and
// simulated Nomad, refits every target each `refresh` and reads every
// target at `step` (the example's schedule suits a real fleet, not a story
// of minutes; see demoRules for what the step changes in the rules).
func exporterConfig(src, dst, promURL, nomadAddr string, refresh, step time.Duration) error {
	doc, err := readYAML(src)
	if err != nil {
		return err
	}
	root := doc.Content[0]
	set(root, promURL, "prometheus", "url")
	if n := child(root, "nomad", false); n != nil {
		set(root, nomadAddr, "nomad", "address")
		set(root, model.Duration(refresh).String(), "nomad", "refresh")
		// The simulator checks no token unless configured; a file the
		// example names does not exist here.
		removeKey(n, "token_file")
	}
	if t := child(root, "targets", false); t != nil && t.Kind == yaml.SequenceNode {
		for _, tg := range t.Content {
			set(tg, model.Duration(refresh).String(), "refresh")
			set(tg, model.Duration(step).String(), "step")
		}
	}
	// The example's calendar holds real dates (a Black Friday); the demo's
	// story is the one it arranged, so it starts with an empty calendar.
	if child(root, "events_file", false) != nil {
		cal := filepath.Join(filepath.Dir(dst), "events.yml")
		if err := os.WriteFile(cal, []byte("events: []\n"), 0o644); err != nil {
			return fmt.Errorf("demo calendar: %w", err)
		}
		set(root, cal, "events_file")
	}
	removeKey(root, "events_api")
	return writeYAML(doc, dst)
}

// actuatorConfig points examples/actuator.yml at the simulated Nomad and the
// demo's Prometheus, acting for real (not dry-run) on the simulator.
func actuatorConfig(src, dst, promURL, nomadAddr, stopFile string) error {
	doc, err := readYAML(src)
	if err != nil {
		return err
	}
	root := doc.Content[0]
	set(root, nomadAddr, "nomad", "address")
	if n := child(root, "nomad", false); n != nil {
		removeKey(n, "token_file")
	}
	set(root, promURL, "prometheus", "url")
	set(root, "false", "global", "dry_run")
	set(root, stopFile, "global", "emergency_stop_file")
	if g := child(root, "global", false); g != nil {
		removeKey(g, "webhook_bearer_token_file")
	}
	// Node pools change through the simulator's pool API, the stand-in for
	// a cloud's (the example runs a command).
	if ps := child(root, "policies", false); ps != nil {
		for _, p := range ps.Content {
			if sp := child(p, "scale_pool", false); sp != nil {
				tg := child(sp, "target", true)
				tg.Content = nil
				set(tg, "nomad_sim", "type")
			}
		}
	}
	return writeYAML(doc, dst)
}

// alertmanagerConfig points every webhook of examples/alertmanager.yml at
// the actuator and makes the route's waits and repeats short (the
// example's suit people's inboxes).
func alertmanagerConfig(src, webhook string) (string, error) {
	doc, err := readYAML(src)
	if err != nil {
		return "", err
	}
	root := doc.Content[0]
	if rs := child(root, "receivers", false); rs != nil {
		for _, r := range rs.Content {
			if wcs := child(r, "webhook_configs", false); wcs != nil {
				for _, wc := range wcs.Content {
					set(wc, webhook, "url")
					removeKey(wc, "http_config")
				}
			}
		}
	}
	var shorten func(n *yaml.Node)
	shorten = func(n *yaml.Node) {
		set(n, "1s", "group_wait")
		set(n, "5s", "group_interval")
		// A firing alert is sent again this often, so the actuator can
		// climb its escalation ladder within the story.
		set(n, "20s", "repeat_interval")
		if rs := child(n, "routes", false); rs != nil {
			for _, r := range rs.Content {
				shorten(r)
			}
		}
	}
	if r := child(root, "route", false); r != nil {
		shorten(r)
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("render alertmanager config: %w", err)
	}
	return string(b), nil
}

func removeKey(m *yaml.Node, key string) {
	if m == nil || m.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// settleRecord is the threshold AnomalyDespiteAction waits after an action
// before a detection counts against it, and settleStep the target step its
// shipped value counts in: three of the exporter's default 5-minute steps
// (rules/fleetcast-thresholds.rules.yml says why three).
const (
	settleRecord = "fleetcast:threshold_action_settle_seconds"
	settleStep   = 5 * time.Minute
)

// demoRules copies the rule files of dir into dst with the `for` of every
// alert but the surplus (scale-in) ones capped at maxFor: the rules wait 10
// minutes to an hour before they fire, which a demo of minutes cannot show.
// The settle of AnomalyDespiteAction keeps its meaning at the demo's target
// step: as many of `step` as the shipped value has of settleStep (three), so
// 3m for 1-minute steps. It returns the files and that settle. Every other
// expression and threshold is the shipped one.
func demoRules(dir, dst string, maxFor, step time.Duration) ([]string, time.Duration, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.rules.yml"))
	if err != nil {
		return nil, 0, err
	}
	if len(files) == 0 {
		return nil, 0, fmt.Errorf("no *.rules.yml in %s", dir)
	}
	sort.Strings(files)
	var out []string
	var settle time.Duration
	for _, f := range files {
		doc, err := readYAML(f)
		if err != nil {
			return nil, 0, err
		}
		if gs := child(doc.Content[0], "groups", false); gs != nil {
			for _, g := range gs.Content {
				rs := child(g, "rules", false)
				if rs == nil {
					continue
				}
				for _, r := range rs.Content {
					if rec := child(r, "record", false); rec != nil && rec.Value == settleRecord && child(r, "labels", false) == nil {
						s, err := scaleSettle(child(r, "expr", false), step)
						if err != nil {
							return nil, 0, fmt.Errorf("%s: record %s: %w", f, settleRecord, err)
						}
						settle = s
						continue
					}
					// Scale-in waits long on purpose; the demo keeps that,
					// so it never shrinks what it is about to need.
					if a := child(r, "alert", false); a != nil && strings.Contains(a.Value, "Surplus") {
						continue
					}
					if v := child(r, "for", false); v != nil {
						if d, err := model.ParseDuration(v.Value); err == nil && time.Duration(d) > maxFor {
							v.Value = model.Duration(maxFor).String()
						}
					}
				}
			}
		}
		p := filepath.Join(dst, filepath.Base(f))
		if err := writeYAML(doc, p); err != nil {
			return nil, 0, err
		}
		out = append(out, p)
	}
	return out, settle, nil
}

// scaleSettle rewrites the settle's `vector(seconds)` to as many of step as
// it holds of settleStep, and returns the new settle.
func scaleSettle(expr *yaml.Node, step time.Duration) (time.Duration, error) {
	if expr == nil || expr.Kind != yaml.ScalarNode {
		return 0, fmt.Errorf("want expr: vector(<seconds>)")
	}
	var sec float64
	v := strings.TrimSpace(expr.Value)
	if _, err := fmt.Sscanf(v, "vector(%g)", &sec); err != nil || !strings.HasSuffix(v, ")") || sec < 0 {
		return 0, fmt.Errorf("expr %q: want vector(<seconds>), a number of seconds at least 0", v)
	}
	scaled := time.Duration(sec * float64(time.Second) * float64(step) / float64(settleStep)).Round(time.Second)
	expr.Value = fmt.Sprintf("vector(%d)", int64(scaled/time.Second))
	return scaled, nil
}

// prometheusConfig scrapes the simulated Nomad, the exporter and the
// actuator every 5 seconds under the job names the rules expect; Nomad at
// /v1/metrics?format=prometheus, where a real agent serves them, as
// examples/prometheus.yml does.
func prometheusConfig(simAddr, exporterAddr, actuatorAddr string) string {
	var b strings.Builder
	b.WriteString("global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\n\nscrape_configs:\n")
	// Nomad's metrics keep their job label as exported_job; the exporter's
	// and the actuator's carry the Nomad job in `job` (honor_labels), as
	// rules/README.md asks.
	job := func(name, addr string, honor bool, path string) {
		if addr == "" {
			return
		}
		fmt.Fprintf(&b, "  - job_name: %s\n    honor_labels: %t\n", name, honor)
		if path != "" {
			fmt.Fprintf(&b, "    metrics_path: %s\n    params: {format: [prometheus]}\n", path)
		}
		fmt.Fprintf(&b, "    static_configs:\n      - targets: [%q]\n", addr)
	}
	job("nomad", simAddr, false, "/v1/metrics")
	job("fleetcast-exporter", exporterAddr, true, "")
	job("fleetcast-actuator", actuatorAddr, true, "")
	return b.String()
}
