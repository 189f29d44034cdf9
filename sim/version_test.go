package sim

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"
)

// testFleetVersion is the test fleet claiming to be the given Nomad release.
func testFleetVersion(t *testing.T, version string) *Fleet {
	t.Helper()
	return testFleetVersionWith(t, "nomad_version: "+version+"\n")
}

// testFleetVersionWith is the test fleet with extra top-level YAML.
func testFleetVersionWith(t *testing.T, extra string) *Fleet {
	t.Helper()
	b, err := os.ReadFile("testdata/fleet.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(append([]byte(extra), b...), "testdata/fleet.yml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(cfg, testStart)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestAgentSelfReportsTheClaimedVersion(t *testing.T) {
	for _, tc := range []struct{ configured, build, version, meta string }{
		{"", DefaultNomadVersion, DefaultNomadVersion, ""},
		{"1.7.7", "1.7.7", "1.7.7", ""},
		{"1.8.2+ent", "1.8.2+ent", "1.8.2", "ent"},
	} {
		var f *Fleet
		if tc.configured == "" {
			f = testFleet(t)
		} else {
			f = testFleetVersion(t, tc.configured)
		}
		c := testClient(t, f, "")
		self, err := c.Agent().Self()
		if err != nil {
			t.Fatalf("%q: %v", tc.configured, err)
		}
		v, _ := self.Config["Version"].(map[string]any)
		if self.Member.Tags["build"] != tc.build || v["Version"] != tc.version || v["VersionMetadata"] != tc.meta {
			t.Errorf("%q: member tags %v, config version %v", tc.configured, self.Member.Tags, v)
		}
		nodes, _, err := c.Nodes().List(nil)
		if err != nil || len(nodes) == 0 || nodes[0].Version != tc.version {
			t.Fatalf("%q: node list version: %+v %v", tc.configured, nodes, err)
		}
		n, _, err := c.Nodes().Info(nodes[0].ID, nil)
		if err != nil || n.Attributes["nomad.version"] != tc.version {
			t.Fatalf("%q: node attribute nomad.version: %v", tc.configured, err)
		}
	}
}

func TestNomadVersionConfig(t *testing.T) {
	b, err := os.ReadFile("testdata/fleet.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"1.5.3", "one.six", "1.6"} {
		_, err := ParseConfig(append([]byte("nomad_version: "+bad+"\n"), b...), "fleet.yml")
		if err == nil || !strings.Contains(err.Error(), "fleet.yml: nomad_version:") {
			t.Errorf("%q: err = %v, want one naming fleet.yml and nomad_version", bad, err)
		}
	}
}

// TestVariableLocksNeedNomad17: Nomad 1.6 has no variable locks; it takes
// ?lock-acquire for a plain write and refuses it without Items.
func TestVariableLocksNeedNomad17(t *testing.T) {
	for _, tc := range []struct {
		version string
		locks   bool
	}{{"1.6.0", false}, {"1.6.9", false}, {"1.7.0", true}, {"1.10.5", true}} {
		f := testFleetVersion(t, tc.version)
		c := testClient(t, f, "")
		l, err := c.Locks(api.WriteOptions{}, api.Variable{Path: "fleetcast/leader", Lock: &api.VariableLock{TTL: "15s"}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = l.Acquire(context.Background())
		if tc.locks {
			if err != nil {
				t.Errorf("%s: acquire: %v", tc.version, err)
			}
			continue
		}
		var ue api.UnexpectedResponseError
		if !errors.As(err, &ue) || ue.StatusCode() != 400 || ue.Body() != "variable missing required Items object" {
			t.Errorf("%s: acquire: %v, want 400 variable missing required Items object", tc.version, err)
		}
	}
}

// TestScaleIndexGuardByVersion: the scale endpoint enforces JobModifyIndex
// from Nomad 1.8.2; Nomad 1.6.0 applied a stale-index scale with 200.
func TestScaleIndexGuardByVersion(t *testing.T) {
	for _, tc := range []struct {
		version  string
		enforced bool
	}{{"1.6.0", false}, {"1.7.7", false}, {"1.8.1", false}, {"1.8.2", true}, {"1.9.0", true}} {
		f := testFleetVersion(t, tc.version)
		c := testClient(t, f, "")
		st, _, err := c.Jobs().ScaleStatus("web", nil)
		if err != nil {
			t.Fatal(err)
		}
		stale := st.JobModifyIndex
		// An operator's change moves the index on.
		if err := f.ScaleGroup("", "web", "web", 2, "operator"); err != nil {
			t.Fatal(err)
		}
		four := int64(4)
		_, _, err = c.Jobs().ScaleWithRequest("web", &api.ScalingRequest{Count: &four, JobModifyIndex: stale,
			Target: map[string]string{"Job": "web", "Group": "web"}, Message: "stale"}, nil)
		after, _, _ := c.Jobs().ScaleStatus("web", nil)
		if tc.enforced {
			var ue api.UnexpectedResponseError
			if !errors.As(err, &ue) || ue.StatusCode() != 500 || !strings.Contains(ue.Body(), "job exists with conflicting job modify index") {
				t.Errorf("%s: stale scale: %v, want 500 conflicting job modify index", tc.version, err)
			}
			if after.TaskGroups["web"].Desired != 2 {
				t.Errorf("%s: the operator's count was overwritten: %d", tc.version, after.TaskGroups["web"].Desired)
			}
			continue
		}
		if err != nil || after.TaskGroups["web"].Desired != 4 {
			t.Errorf("%s: stale scale: %v, desired %d; want it applied as Nomad before 1.8.2 does", tc.version, err, after.TaskGroups["web"].Desired)
		}
	}
}

// TestNodeFieldsFollowTheVersion: fields newer than the claimed release are
// not in the node's JSON.
func TestNodeFieldsFollowTheVersion(t *testing.T) {
	for _, tc := range []struct {
		version string
		has     bool
	}{{"1.6.0", false}, {"1.10.1", false}, {"1.10.2", true}} {
		f := testFleetVersion(t, tc.version)
		c := testClient(t, f, "")
		nodes, _, err := c.Nodes().List(nil)
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]any
		if _, err := c.Raw().Query("/v1/node/"+nodes[0].ID, &raw, nil); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"NodeMaxAllocs", "GCVolumesOnNodeGC"} {
			if _, ok := raw[k]; ok != tc.has {
				t.Errorf("%s: node JSON has %s: %v, want %v", tc.version, k, ok, tc.has)
			}
		}
		if raw["Resources"] == nil || raw["NodePool"] == nil {
			t.Errorf("%s: node JSON lacks Resources or NodePool", tc.version)
		}
	}
}
