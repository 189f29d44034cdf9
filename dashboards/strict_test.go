package dashboards

//lint:file-ignore SA1019 The generated dashboards use the classic model (see dashboards.go); the test reads them back with it.

import (
	"encoding/json"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// TestDashboardsPassStrictUnmarshal reads every generated dashboard back
// with the Foundation SDK's strict unmarshal, as tools built on the SDK do
// when they import a dashboard: every required field must be set. The
// import header (__inputs, __requires) is Grafana's sharing envelope, which
// Grafana removes on import and the SDK's model does not have, so it is
// taken off first, and checked on its own.
func TestDashboardsPassStrictUnmarshal(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(f.JSON, &m); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		var requires []importInput
		if err := json.Unmarshal(m["__requires"], &requires); err != nil || len(requires) == 0 ||
			requires[0].ID != "grafana" || requires[0].Version != MinGrafanaVersion {
			t.Errorf("%s: __requires %s (%v); want Grafana %s first", f.Name, m["__requires"], err, MinGrafanaVersion)
		}
		var inputs []importInput
		if err := json.Unmarshal(m["__inputs"], &inputs); err != nil || len(inputs) != 1 || inputs[0].PluginID != "prometheus" {
			t.Errorf("%s: __inputs %s (%v); want one Prometheus data source", f.Name, m["__inputs"], err)
		}
		delete(m, "__inputs")
		delete(m, "__requires")
		model, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard.Dashboard
		err = d.UnmarshalJSONStrict(model)
		// v0.0.22 returns an empty cog.BuildErrors, a non-nil error
		// interface holding no error, on success.
		if errs, ok := err.(cog.BuildErrors); ok && len(errs) == 0 {
			err = nil
		}
		if err != nil {
			t.Errorf("%s: %v", f.Name, err)
		}
	}
}
