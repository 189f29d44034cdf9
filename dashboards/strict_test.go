package dashboards

import (
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// TestDashboardsPassStrictUnmarshal reads every generated dashboard back
// with the Foundation SDK's strict unmarshal, as tools built on the SDK do
// when they import a dashboard: every required field must be set.
func TestDashboardsPassStrictUnmarshal(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		var d dashboard.Dashboard
		err := d.UnmarshalJSONStrict(f.JSON)
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
