package testenv

import (
	"os"
	"testing"

	"gopkg.in/yaml.v3"
)

// AlertRule is one alerting rule of a Prometheus rule file, as the
// contract tests between the rules, the actuator and Alertmanager read it.
type AlertRule struct {
	File        string
	Alert       string            `yaml:"alert"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// AlertRules reads the alerting rules of the given rule files (recording
// rules are left out); an unreadable file fails the test.
func AlertRules(t testing.TB, files ...string) []AlertRule {
	t.Helper()
	var out []AlertRule
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("read the rules: %v", err)
		}
		var rf struct {
			Groups []struct {
				Rules []AlertRule `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(b, &rf); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" {
					r.File = file
					out = append(out, r)
				}
			}
		}
	}
	return out
}
