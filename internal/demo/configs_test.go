package demo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDemoRulesCapForExceptSurplus(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	rules := `groups:
  - name: g
    rules:
      - alert: JobPredictedSaturation
        expr: vector(1)
        for: 10m
      - alert: JobPredictedSurplus
        expr: vector(1)
        for: 1h
      - alert: Quick
        expr: vector(1)
        for: 5s
      - record: x:y:z
        expr: vector(1)
      - record: fleetcast:threshold_action_settle_seconds
        expr: vector(900)
      - record: fleetcast:threshold_action_settle_seconds
        expr: vector(3600)
        labels: {node_pool: gpu}
`
	if err := os.WriteFile(filepath.Join(src, "a.rules.yml"), []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	files, settle, err := demoRules(src, dst, 20*time.Second, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// 900 s is three 5-minute steps; at 1-minute steps, three are 180 s.
	if settle != 3*time.Minute {
		t.Errorf("settle %s, want 3m0s", settle)
	}
	var doc struct {
		Groups []struct {
			Rules []map[string]any `yaml:"rules"`
		} `yaml:"groups"`
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"JobPredictedSaturation": "20s", "JobPredictedSurplus": "1h", "Quick": "5s"}
	var settles []string
	for _, r := range doc.Groups[0].Rules {
		if r["record"] == "fleetcast:threshold_action_settle_seconds" {
			settles = append(settles, r["expr"].(string))
		}
		name, _ := r["alert"].(string)
		if w, ok := want[name]; ok && r["for"] != w {
			t.Errorf("%s: for %v, want %s", name, r["for"], w)
		}
	}
	// The default is scaled; a per-object override is left as written.
	if len(settles) != 2 || settles[0] != "vector(180)" || settles[1] != "vector(3600)" {
		t.Errorf("settle records %q, want [vector(180) vector(3600)]", settles)
	}
}

func TestDemoRulesSettleNeedsSeconds(t *testing.T) {
	src := t.TempDir()
	rules := "groups:\n  - name: g\n    rules:\n      - record: fleetcast:threshold_action_settle_seconds\n        expr: vector(-1)\n"
	if err := os.WriteFile(filepath.Join(src, "t.rules.yml"), []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := demoRules(src, t.TempDir(), 20*time.Second, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "t.rules.yml") || !strings.Contains(err.Error(), "vector(<seconds>)") {
		t.Errorf("err %v, want one naming the file and the form vector(<seconds>)", err)
	}
}

// The shipped settle is what the demo scales: three 5-minute steps.
func TestShippedSettleIsThreeDefaultSteps(t *testing.T) {
	_, settle, err := demoRules(filepath.Join("..", "..", "rules"), t.TempDir(), 20*time.Second, settleStep)
	if err != nil {
		t.Fatal(err)
	}
	if settle != 3*settleStep {
		t.Errorf("rules/ settle %s, want three %s steps (%s); the demo scales it as three steps", settle, settleStep, 3*settleStep)
	}
}

func TestExampleConfigsPointAtTheDemo(t *testing.T) {
	ex := filepath.Join("..", "..", "examples")
	dir := t.TempDir()

	am, err := alertmanagerConfig(filepath.Join(ex, "alertmanager.yml"), "http://127.0.0.1:1/webhook")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(am, "http://127.0.0.1:1/webhook") || strings.Contains(am, "credentials_file") || !strings.Contains(am, "group_wait: 1s") {
		t.Errorf("alertmanager config not pointed at the actuator with short waits:\n%s", am)
	}

	act := filepath.Join(dir, "actuator.yml")
	if err := actuatorConfig(filepath.Join(ex, "actuator.yml"), act, "http://prom", "http://nomad", filepath.Join(dir, "STOP")); err != nil {
		t.Fatal(err)
	}
	var a struct {
		Global struct {
			DryRun bool `yaml:"dry_run"`
		} `yaml:"global"`
		Nomad struct {
			Address   string `yaml:"address"`
			TokenFile string `yaml:"token_file"`
		} `yaml:"nomad"`
		Policies []struct {
			ScalePool *struct {
				Target struct {
					Type string `yaml:"type"`
				} `yaml:"target"`
			} `yaml:"scale_pool"`
		} `yaml:"policies"`
	}
	b, err := os.ReadFile(act)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &a); err != nil {
		t.Fatalf("actuator config: %v\n%s", err, b)
	}
	if a.Global.DryRun || a.Nomad.Address != "http://nomad" || a.Nomad.TokenFile != "" {
		t.Errorf("actuator config: dry_run %v, nomad %+v; want acting on http://nomad without a token file", a.Global.DryRun, a.Nomad)
	}
	for _, p := range a.Policies {
		if p.ScalePool != nil && p.ScalePool.Target.Type != "nomad_sim" {
			t.Errorf("pool target %q, want nomad_sim", p.ScalePool.Target.Type)
		}
	}

	exp := filepath.Join(dir, "fleetcast.yml")
	if err := exporterConfig(filepath.Join(ex, "fleetcast.yml"), exp, "http://prom", "http://nomad", 15*time.Second, time.Minute); err != nil {
		t.Fatal(err)
	}
	b, err = os.ReadFile(exp)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"url: http://prom", "address: http://nomad", "refresh: 15s", filepath.Join(dir, "events.yml")} {
		if !strings.Contains(string(b), s) {
			t.Errorf("exporter config lacks %q:\n%s", s, b)
		}
	}
	var e struct {
		Targets []struct {
			Name string `yaml:"name"`
			Step string `yaml:"step"`
		} `yaml:"targets"`
	}
	if err := yaml.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	if len(e.Targets) == 0 {
		t.Fatal("exporter config has no targets")
	}
	for _, tg := range e.Targets {
		if tg.Step != "1m" {
			t.Errorf("target %s: step %q, want 1m (the demo reads every target at its step)", tg.Name, tg.Step)
		}
	}
}
