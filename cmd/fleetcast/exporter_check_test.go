package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExporterCheckConfigReadsNomadToken: a missing nomad.token_file fails
// --check-config, not the start.
func TestExporterCheckConfigReadsNomadToken(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "fleetcast.yml")
	text := "prometheus: {url: http://127.0.0.1:9090}\nnomad: {address: http://127.0.0.1:4646, token_file: nomad-token}\n" +
		"targets: [{name: fleet_cpu, query: 'sum(rate(node_cpu_seconds_total[5m]))'}]\n"
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"exporter", "--config.file", cfg, "--check-config"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "nomad.token_file") {
		t.Fatalf("missing token file: exit %d, %s%s", code, out.String(), errb.String())
	}
	if err := os.WriteFile(filepath.Join(dir, "nomad-token"), []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"exporter", "--config.file", cfg, "--check-config"}, &out, &errb); code != 0 {
		t.Fatalf("with the token file: exit %d, %s%s", code, out.String(), errb.String())
	}
}
