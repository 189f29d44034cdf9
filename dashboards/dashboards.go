// Package dashboards generates fleetcast's Grafana dashboards with the Grafana
// Foundation SDK: the fleet overview, the node and job drill-downs and the
// actuator. The generated JSON is committed beside this file; a test fails
// when it drifts from the generator, so edit the Go code and regenerate with
// `go generate ./dashboards`.
package dashboards

//lint:file-ignore SA1019 The classic dashboard model (schemaVersion 42) is what Grafana imports everywhere; the v2 schema needs Grafana 12 with feature flags.

//go:generate go run ./cmd/gen -out .

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// File is one generated dashboard.
type File struct {
	Name string // file name, e.g. fleetcast-fleet.json
	UID  string
	JSON []byte // indented, with a trailing newline
}

// Generate builds every dashboard and renders it as JSON, in a fixed order.
func Generate() ([]File, error) {
	builders := []struct {
		uid   string
		build func() *dashboard.DashboardBuilder
	}{
		{uidFleet, fleetOverview},
		{uidNode, nodeDrilldown},
		{uidJob, jobDrilldown},
		{uidActuator, actuatorDashboard},
	}
	files := make([]File, 0, len(builders))
	for _, b := range builders {
		d, err := b.build().Build()
		if err != nil {
			return nil, fmt.Errorf("build dashboard %s: %w", b.uid, err)
		}
		numberPanels(&d)
		if b.uid == uidNode || b.uid == uidJob {
			// The look-ahead: panels plotting "forecast made $horizon
			// earlier" (offset $horizon) go on past now, up to
			// now+$horizon, on forecasts already made.
			d.Time = &dashboard.DashboardDashboardTime{From: "now-6h", To: "now+1h"}
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("render dashboard %s: %w", b.uid, err)
		}
		js, err := withImportHeader(unescapeHTML(buf.Bytes()), &d)
		if err != nil {
			return nil, fmt.Errorf("render dashboard %s: %w", b.uid, err)
		}
		files = append(files, File{Name: b.uid + ".json", UID: b.uid, JSON: js})
	}
	return files, nil
}

// MinGrafanaVersion is the oldest Grafana the dashboards are stated for:
// the JSON has schemaVersion 42, which Grafana 12 writes; older versions
// may refuse or migrate it.
const MinGrafanaVersion = "12.0.0"

// importInput is an entry of __inputs or __requires, the header Grafana's
// "Export for sharing externally" writes and its import reads.
type importInput struct {
	Name        string `json:"name,omitempty"`
	Label       string `json:"label,omitempty"`
	Description string `json:"description,omitempty"`
	Type        string `json:"type"`
	ID          string `json:"id,omitempty"`
	PluginID    string `json:"pluginId,omitempty"`
	PluginName  string `json:"pluginName,omitempty"`
	Version     string `json:"version,omitempty"`
}

// withImportHeader puts __inputs (the Prometheus data source to pick on
// import, DS_PROMETHEUS) and __requires (Grafana's minimum version, the
// data source plugin and every panel plugin used) first in the JSON.
func withImportHeader(js []byte, d *dashboard.Dashboard) ([]byte, error) {
	inputs := []importInput{{Name: "DS_PROMETHEUS", Label: "Prometheus", Description: "the Prometheus that scrapes the fleetcast exporter and evaluates its rules",
		Type: "datasource", PluginID: "prometheus", PluginName: "Prometheus"}}
	requires := []importInput{
		{Type: "grafana", ID: "grafana", Name: "Grafana", Version: MinGrafanaVersion},
		{Type: "datasource", ID: "prometheus", Name: "Prometheus", Version: "1.0.0"},
	}
	seen := map[string]bool{}
	var types []string
	add := func(t *string) {
		if t != nil && *t != "" && !seen[*t] {
			seen[*t] = true
			types = append(types, *t)
		}
	}
	for _, p := range d.Panels {
		switch {
		case p.Panel != nil:
			add(&p.Panel.Type)
		case p.RowPanel != nil:
			for i := range p.RowPanel.Panels {
				add(&p.RowPanel.Panels[i].Type)
			}
		}
	}
	slices.Sort(types)
	for _, t := range types {
		requires = append(requires, importInput{Type: "panel", ID: t, Name: t})
	}
	head, err := json.MarshalIndent(map[string]any{"__inputs": inputs, "__requires": requires}, "", "  ")
	if err != nil {
		return nil, err
	}
	body, ok := bytes.CutPrefix(js, []byte("{\n"))
	if !ok {
		return nil, fmt.Errorf("dashboard JSON does not start with an object")
	}
	head = bytes.TrimSuffix(head, []byte("\n}"))
	return append(append(head, ",\n"...), body...), nil
}

// unescapeHTML undoes the \u003c, \u003e and \u0026 escapes that the SDK's
// own MarshalJSON methods write, so PromQL comparisons and URLs read as
// typed. No generated string contains a literal backslash-u.
func unescapeHTML(b []byte) []byte {
	r := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&")
	return []byte(r.Replace(string(b)))
}

// numberPanels gives every panel and row a unique id in layout order, which
// Grafana needs for links to panels and the builders leave unset.
func numberPanels(d *dashboard.Dashboard) {
	var id uint32
	for _, p := range d.Panels {
		id++
		switch {
		case p.Panel != nil:
			p.Panel.Id = cog.ToPtr(id)
		case p.RowPanel != nil:
			p.RowPanel.Id = id
			for i := range p.RowPanel.Panels {
				id++
				p.RowPanel.Panels[i].Id = cog.ToPtr(id)
			}
		}
	}
}

const (
	uidFleet    = "fleetcast-fleet"
	uidNode     = "fleetcast-node"
	uidJob      = "fleetcast-job"
	uidActuator = "fleetcast-actuator"

	// bandLow and bandHigh are the quantiles drawn as the forecast band: the
	// exporter's defaults, an 80% interval.
	bandLow  = "0.1"
	bandHigh = "0.9"
	unitMHz  = "suffix: MHz"
	runbooks = "https://github.com/fleetcast/fleetcast/blob/main/rules/README.md"
)

// ds is the datasource of every query: the dashboard's $datasource variable.
func ds() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}
}

// newDashboard starts a dashboard with the settings all of fleetcast's share.
func newDashboard(uid, title, description string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(description).
		Tags([]string{"fleetcast", "generated"}).
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Refresh("1m").
		Time("now-6h", "now").
		Timezone(common.TimeZoneBrowser).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").
			Label("Data source").
			Type("prometheus").
			// Grafana's import replaces ${DS_PROMETHEUS} (see __inputs)
			// with the data source picked in its form.
			Current(dashboard.VariableOption{
				Text:  dashboard.StringOrArrayOfString{String: cog.ToPtr("${DS_PROMETHEUS}")},
				Value: dashboard.StringOrArrayOfString{String: cog.ToPtr("${DS_PROMETHEUS}")},
			})).
		Link(dashboard.NewDashboardLinkBuilder("fleetcast").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{"fleetcast"}).
			AsDropdown(true).
			IncludeVars(true).
			KeepTime(true)).
		Annotation(dashboard.NewAnnotationQueryBuilder().
			Name("fleetcast actions").
			Datasource(ds()).
			Enable(true).
			IconColor("orange").
			Expr(`changes(fleetcast_actuator_last_action_timestamp_seconds[$__interval]) > 0`).
			TitleFormat("{{action}}").
			TextFormat("{{namespace}} {{job}} {{task_group}} {{node_id}} {{node_pool}}").
			Step("1m"))
}

// q is a Prometheus range query with a legend.
func q(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Datasource(ds()).Expr(expr).LegendFormat(legend).Range()
}

// instant is a Prometheus instant query rendered as a table.
func instant(expr string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Datasource(ds()).Expr(expr).Instant().Format(prometheus.PromQueryFormatTable)
}

// refs numbers queries A, B, C... so that overrides and tests can name them.
func refs(qs []*prometheus.DataqueryBuilder) []cog.Builder[variants.Dataquery] {
	out := make([]cog.Builder[variants.Dataquery], len(qs))
	for i, x := range qs {
		out[i] = x.RefId(string(rune('A' + i)))
	}
	return out
}

// ts is a time series panel.
func ts(title, description, unit string, qs ...*prometheus.DataqueryBuilder) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(ds()).
		Unit(unit).
		Span(12).Height(8).
		LineWidth(1).
		FillOpacity(0).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderNone)).
		Targets(refs(qs))
}

// band makes the series named high fill down to the series named low, and
// dashes the threshold series if any.
func band(p *timeseries.PanelBuilder, low, high string) *timeseries.PanelBuilder {
	return p.
		OverrideByName(high, []dashboard.DynamicConfigValue{
			{Id: "custom.fillBelowTo", Value: low},
			{Id: "custom.fillOpacity", Value: 20},
			{Id: "custom.lineWidth", Value: 0},
			{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": "blue"}},
		}).
		OverrideByName(low, []dashboard.DynamicConfigValue{
			{Id: "custom.lineWidth", Value: 0},
			{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": "blue"}},
		})
}

// dashed draws the series whose display name matches the regexp name as
// dashed red lines (thresholds, capacity).
func dashed(p *timeseries.PanelBuilder, name string) *timeseries.PanelBuilder {
	return p.OverrideByRegexp("^"+name+"$", []dashboard.DynamicConfigValue{
		{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}},
		{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": "red"}},
	})
}

// bars turns a time series panel into stacked bars (counts per interval).
func bars(p *timeseries.PanelBuilder) *timeseries.PanelBuilder {
	return p.DrawStyle(common.GraphDrawStyleBars).
		FillOpacity(80).
		Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal))
}

// statPanel is a single-value panel with red/amber/green steps.
func statPanel(title, description, unit string, steps []dashboard.Threshold, qs ...*prometheus.DataqueryBuilder) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(ds()).
		Unit(unit).
		Span(6).Height(8).
		ColorMode(common.BigValueColorModeBackground).
		GraphMode(common.BigValueGraphModeArea).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false)).
		Thresholds(dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(steps)).
		Targets(refs(qs))
}

// tablePanel is a table of instant queries.
func tablePanel(title, description, unit string, qs ...*prometheus.DataqueryBuilder) *table.PanelBuilder {
	return table.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(ds()).
		Unit(unit).
		Span(12).Height(8).
		// An explicit footer: the SDK's default leaves reducer null, which
		// its own strict unmarshal (and so any tool built on it) rejects.
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{}).CountRows(false)).
		Targets(refs(qs))
}

func step(color string, value *float64) dashboard.Threshold {
	return dashboard.Threshold{Color: color, Value: value}
}

// headroomSteps colours a headroom ratio: red below 10%, amber below 20%.
func headroomSteps() []dashboard.Threshold {
	return []dashboard.Threshold{step("red", nil), step("orange", cog.ToPtr(0.1)), step("green", cog.ToPtr(0.2))}
}

// labelValues is a query variable listing the values of a label.
func labelValues(name, label, metric, labelName string, includeAll bool) *dashboard.QueryVariableBuilder {
	query := fmt.Sprintf("label_values(%s, %s)", metric, labelName)
	v := dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Datasource(ds()).
		Query(dashboard.StringOrMap{String: cog.ToPtr(query)}).
		Definition(query).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc)
	if includeAll {
		v = v.IncludeAll(true).AllValue(".*").Multi(true)
	}
	return v
}

// horizonVariable picks the forecast horizon compared with reality.
func horizonVariable() *dashboard.CustomVariableBuilder {
	return dashboard.NewCustomVariableBuilder("horizon").
		Label("Forecast horizon").
		Description("How far ahead the forecast was made: history is compared with the forecast made this long before.").
		Values(dashboard.StringOrMap{String: cog.ToPtr("15m,1h,6h,1d")}).
		Current(dashboard.VariableOption{
			Selected: cog.ToPtr(true),
			Text:     dashboard.StringOrArrayOfString{String: cog.ToPtr("1h")},
			Value:    dashboard.StringOrArrayOfString{String: cog.ToPtr("1h")},
		})
}

// drilldownLinks are the data links of a table row to the node and job
// dashboards, filled from the row's node_id or namespace, job and task_group.
func drilldownLinks() []cog.Builder[dashboard.DashboardLink] {
	return []cog.Builder[dashboard.DashboardLink]{
		dashboard.NewDashboardLinkBuilder("Node ${__data.fields.node_id}").
			Type(dashboard.DashboardLinkTypeLink).
			Url("/d/" + uidNode + "?var-node=${__data.fields.node_id}&${datasource:queryparam}&${__url_time_range}"),
		dashboard.NewDashboardLinkBuilder("Job ${__data.fields.namespace}/${__data.fields.job}").
			Type(dashboard.DashboardLinkTypeLink).
			Url("/d/" + uidJob + "?var-namespace=${__data.fields.namespace}&var-job=${__data.fields.job}&var-task_group=${__data.fields.task_group}&${datasource:queryparam}&${__url_time_range}"),
	}
}

// alertLinks are the data links of an alert table's row: the alert's
// runbook (its section of rules/README.md, which carries an anchor named
// exactly as the alert) and the node and job drill-downs.
func alertLinks() []cog.Builder[dashboard.DashboardLink] {
	return append([]cog.Builder[dashboard.DashboardLink]{
		dashboard.NewDashboardLinkBuilder("Runbook: ${__data.fields.alertname}").
			Type(dashboard.DashboardLinkTypeLink).
			Url(runbooks + "#${__data.fields.alertname}").
			TargetBlank(true),
	}, drilldownLinks()...)
}
