package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckConfig: --check-config of the three long-running commands reads
// the config file, the files it names and --web.config.file (through the
// one checkWebConfig), and exits 1 with an error on stderr that names what
// is wrong, or 0 with OK on stdout.
func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	policy := "policies: [{name: web, match: {alertname: [X]}, action: scale_group, scale_group: {min: 1, max: 4, max_step: 1}}]\n"
	hook := write("hook-token", "hook\n")
	withToken := write("actuator-token.yml", "global: {webhook_bearer_token_file: "+hook+"}\n"+policy)
	noToken := write("actuator.yml", policy)
	minMax := write("actuator-min-max.yml", "policies: [{name: web, match: {alertname: [X]}, action: scale_group, scale_group: {min: 3, max: 2, max_step: 1}}]\n")
	write("nomad-token", "secret\n")
	exporter := func(tokenFile string) string {
		return write("fleetcast-"+tokenFile+".yml", "prometheus: {url: http://127.0.0.1:9090}\nnomad: {address: http://127.0.0.1:4646, token_file: "+tokenFile+"}\n"+
			"targets: [{name: fleet_cpu, query: 'sum(rate(node_cpu_seconds_total[5m]))'}]\n")
	}
	brokenWeb := write("web-broken.yml", "tls_server_config:\n  cert_file: /nonexistent.crt\n  key_file: /nonexistent.key\n")
	basicWeb := write("web-basic.yml", "basic_auth_users:\n  alertmanager: $2y$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W\n")
	cases := []struct {
		name string
		args []string
		code int
		want string // on stderr when code is 1, on stdout when 0
	}{
		{"actuator: the example without its token file", []string{"actuator", "--config.file", "../../examples/actuator.yml"}, 1, "global.webhook_bearer_token_file"},
		{"actuator: max below min", []string{"actuator", "--config.file", minMax}, 1, "policies[0] (web).scale_group: max 2 must be >= min 3"},
		{"actuator: a broken web config", []string{"actuator", "--config.file", noToken, "--web.config.file", brokenWeb}, 1, "--web.config.file " + brokenWeb},
		{"actuator: basic auth and the bearer token", []string{"actuator", "--config.file", withToken, "--web.config.file", basicWeb}, 1, "every request would get 401"},
		{"actuator: basic auth alone", []string{"actuator", "--config.file", noToken, "--web.config.file", basicWeb}, 0, "OK"},
		{"actuator: the bearer token alone", []string{"actuator", "--config.file", withToken}, 0, "OK"},
		{"exporter: a missing nomad token file", []string{"exporter", "--config.file", exporter("missing-token")}, 1, "nomad.token_file"},
		{"exporter: the nomad token file", []string{"exporter", "--config.file", exporter("nomad-token")}, 0, "OK"},
		{"exporter: a broken web config", []string{"exporter", "--config.file", "../../examples/fleetcast.yml", "--web.config.file", brokenWeb}, 1, "--web.config.file " + brokenWeb},
		{"sim: a broken web config", []string{"sim", "--config.file", "../../examples/fleet.yml", "--web.config.file", brokenWeb}, 1, "--web.config.file " + brokenWeb},
		{"sim: the example", []string{"sim", "--config.file", "../../examples/fleet.yml"}, 0, "OK"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append(c.args, "--check-config"), &out, &errb)
			where := &errb
			if c.code == 0 {
				where = &out
			}
			if code != c.code || !strings.Contains(where.String(), c.want) {
				t.Errorf("fleetcast %s --check-config: exit %d, stdout %q, stderr %q; want exit %d with %q",
					strings.Join(c.args, " "), code, out.String(), errb.String(), c.code, c.want)
			}
		})
	}
}

// TestCheckConfigWarns: --check-config of an actuator config whose
// escalation ladder has no rung for nodes passes (exit 0), and says so on
// stderr, naming the file and the field.
func TestCheckConfigWarns(t *testing.T) {
	p := filepath.Join(t.TempDir(), "actuator.yml")
	text := "policies:\n" +
		"  - {name: web, match: {alertname: [X]}, action: scale_group, scale_group: {min: 1, max: 4, max_step: 1}}\n" +
		"  - {name: esc, match: {alertname: [AnomalyDespiteAction]}, action: escalate,\n" +
		"     escalate: {max_per_hour: 3, ladder: [{action: scale_group, step_factor: 2}], policies: {scale_group: web}}}\n"
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"actuator", "--config.file", p, "--check-config"}, &out, &errb)
	want := "fleetcast actuator: warning: " + p + ": policies[1] (esc).escalate.ladder: no rung applies to a node"
	if code != 0 || !strings.Contains(out.String(), "OK") || !strings.Contains(out.String(), "with 1 warning(s) on stderr") || !strings.Contains(errb.String(), want) {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 0, OK with 1 warning(s), and %q", code, out.String(), errb.String(), want)
	}
}
