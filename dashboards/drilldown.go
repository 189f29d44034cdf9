package dashboards

//lint:file-ignore SA1019 The classic dashboard model (schemaVersion 42) is what Grafana imports everywhere; the v2 schema needs Grafana 12 with feature flags.

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// nodeDrilldown shows one Nomad node: reality against the forecast made
// earlier for the same time, its band, the anomaly score, the model and its
// quality, and the node's predicted headroom.
func nodeDrilldown() *dashboard.DashboardBuilder {
	sel := `node_id="$node", target="$target"`
	b := newDashboard(uidNode, "fleetcast / Node",
		"One Nomad node: observed demand against the forecast fleetcast made for the same time, the band, anomalies and model quality.").
		WithVariable(labelValues("node_pool", "Node pool", "nomad_client_allocated_cpu", "node_pool", true)).
		// The nodes fleetcast forecasts (the recorded node demand carries
		// node_pool), not every Nomad node: a node that just joined has no
		// forecast yet, and picking it first would leave every panel empty.
		WithVariable(labelValues("node", "Node", `node:fleetcast_demand_peak:max{node_pool=~"$node_pool"}`, "node_id", false)).
		WithVariable(labelValues("target", "Target", `fleetcast_observed{node_id="$node"}`, "target", false)).
		WithVariable(horizonVariable()).
		WithRow(dashboard.NewRowBuilder("Forecast against reality")).
		WithPanel(historyPanel(sel).Span(24)).
		WithPanel(dashed(ts("Predicted headroom",
			"1 - predicted peak demand / schedulable capacity of this node; NodePredictedOverload fires below the dashed threshold and fleetcast migrates allocations away.",
			"percentunit",
			q(`node:fleetcast_headroom:ratio{node_id="$node"}`, "{{resource}} within {{window}}"),
			q(`node:fleetcast_threshold_overload_headroom:ratio{node_id="$node"}`, "overload threshold"),
		), "overload threshold")).
		WithPanel(ts("Allocated share and host CPU",
			"What Nomad has allocated on this node, as a share of its schedulable capacity, and the host's CPU use.",
			"percentunit",
			q(`node:nomad_allocated:sum{node_id="$node"} / node:nomad_capacity:sum{node_id="$node"}`, "{{resource}} allocated"),
			q(`avg(nomad_client_host_cpu_total_percent{node_id="$node"}) / 100`, "host CPU used"),
		)).
		WithPanel(statPanel("Time until capacity is exhausted",
			"When the upper forecast of this node's targets crosses capacity; empty or +Inf: not within the horizon.",
			"s",
			[]dashboard.Threshold{step("red", nil), step("orange", cog.ToPtr(3600.0)), step("green", cog.ToPtr(6*3600.0))},
			q(`node:fleetcast_capacity_exhaustion_seconds:min{node_id="$node"}`, "{{resource}}")).Span(6))
	return modelRows(b, `node_id="$node"`)
}

// jobDrilldown shows one task group of a Nomad job, as nodeDrilldown shows a node.
func jobDrilldown() *dashboard.DashboardBuilder {
	tg := `namespace="$namespace", job="$job", task_group="$task_group"`
	sel := tg + `, target="$target"`
	b := newDashboard(uidJob, "fleetcast / Job",
		"One Nomad job and its task groups: observed demand against the forecast fleetcast made for the same time, the band, anomalies, model quality and what the actuator did.").
		WithVariable(labelValues("namespace", "Namespace", `fleetcast_observed{task_group!=""}`, "namespace", false)).
		WithVariable(labelValues("job", "Job", `fleetcast_observed{namespace="$namespace", task_group!=""}`, "job", false)).
		WithVariable(labelValues("task_group", "Task group", `fleetcast_observed{namespace="$namespace", job="$job"}`, "task_group", false)).
		WithVariable(labelValues("target", "Target", `fleetcast_observed{namespace="$namespace", job="$job", task_group="$task_group"}`, "target", false)).
		WithVariable(horizonVariable()).
		WithRow(dashboard.NewRowBuilder("Forecast against reality")).
		WithPanel(historyPanel(sel).Span(24)).
		WithPanel(ts("Predicted headroom of the allocation",
			"1 - predicted peak demand / what the task group has allocated now; JobPredictedSurplus fires when it stays high for an hour.",
			"percentunit",
			q(`task_group:fleetcast_headroom:ratio{`+tg+`}`, "{{task_group}} {{resource}} within {{window}}"))).
		WithPanel(statPanel("Time until saturation",
			"When the upper forecast of the task group crosses its capacity; JobPredictedSaturation fires within fleetcast:threshold_job_saturation_seconds.",
			"s",
			[]dashboard.Threshold{step("red", nil), step("orange", cog.ToPtr(3600.0)), step("green", cog.ToPtr(6*3600.0))},
			q(`task_group:fleetcast_capacity_exhaustion_seconds:min{`+tg+`}`, "{{task_group}} {{resource}}")).Span(6)).
		WithPanel(ts("Queued allocations",
			"Allocations of this job Nomad could not place yet (the Nomad job label arrives as exported_job unless scraped with honor_labels).",
			"short",
			q(`sum by (task_group) (nomad_nomad_job_summary_queued{namespace="$namespace", exported_job="$job"} or nomad_nomad_job_summary_queued{namespace="$namespace", job="$job"})`, "{{task_group}}"),
		).Span(6)).
		WithRow(dashboard.NewRowBuilder("Actuator on this job")).
		WithPanel(ts("Cooldown remaining",
			"Seconds before fleetcast may scale the task group again.",
			"s",
			q(`fleetcast_actuator_cooldown_remaining_seconds{`+tg+`}`, "{{task_group}}"))).
		WithPanel(ts("Scheduled periodic demand",
			"Resources this job's periodic launches ask within each horizon (fleetcast_scheduled_demand).",
			"short",
			q(`fleetcast_scheduled_demand{namespace="$namespace", job="$job"}`, "{{resource}} within {{horizon}}")))
	return modelRows(b, tg)
}

// historyPanel draws the observed series against the median forecast made
// $horizon earlier for the same time (offset), inside its band. Grafana
// takes no unit from a variable, so the series are named after their
// resource label and overrides give each resource its unit (MHz for cpu,
// bytes for memory) and its band.
func historyPanel(sel string) *timeseries.PanelBuilder {
	forecast := func(quantile string) string {
		return fmt.Sprintf(`max by (resource) (fleetcast_forecast{%s, horizon="$horizon", q=%q} offset $horizon)`, sel, quantile)
	}
	p := ts("$target: observed against the forecast made $horizon earlier",
		"The observed value (fleetcast_observed) and, for the same instant, the median forecast and the band that fleetcast published $horizon before. The time range runs to now+1h: past now the forecasts already made draw the look-ahead.",
		"short",
		q(fmt.Sprintf(`max by (resource) (fleetcast_observed{%s})`, sel), "observed {{resource}}"),
		q(forecast("0.5"), "forecast (median) {{resource}}"),
		q(forecast(bandLow), "band q"+bandLow+" {{resource}}"),
		q(forecast(bandHigh), "band q"+bandHigh+" {{resource}}"),
	)
	p = p.OverrideByRegexp(`^forecast \(median\).*`, []dashboard.DynamicConfigValue{
		{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}},
	})
	for _, r := range []struct{ resource, unit string }{{"cpu", unitMHz}, {"memory", "bytes"}} {
		p = band(p, "band q"+bandLow+" "+r.resource, "band q"+bandHigh+" "+r.resource)
		p = p.OverrideByRegexp(".* "+r.resource+"$", []dashboard.DynamicConfigValue{{Id: "unit", Value: r.unit}})
	}
	return p
}

// modelRows adds the anomaly score and the model's identity and quality for
// the targets matched by sel.
func modelRows(b *dashboard.DashboardBuilder, sel string) *dashboard.DashboardBuilder {
	return b.
		WithRow(dashboard.NewRowBuilder("Anomalies and model quality")).
		WithPanel(dashed(ts("Anomaly score",
			"How far the latest observation lies outside the band forecast for it. ForecastAnomaly fires for 15 minutes after it crosses the dashed threshold (ForecastAnomalyAfterAction if that was within the settle after fleetcast acted); AnomalyDespiteAction when it crosses more than fleetcast:threshold_action_settle_seconds after fleetcast acted.",
			"short",
			q(`max by (target) (fleetcast_anomaly_score{`+sel+`})`, "{{target}}"),
			q(`target:fleetcast_threshold_anomaly:score{target="$target"}`, "anomaly threshold"),
		), "anomaly threshold")).
		WithPanel(ts("Backtest quality",
			"The model's own rolling-origin backtest: MASE (below 1 beats the seasonal naive forecast) and the share of observations inside the band.",
			"short",
			q(`max by (target) (fleetcast_backtest_mase{`+sel+`})`, "{{target}} MASE"),
			q(`max by (target) (fleetcast_backtest_coverage_ratio{`+sel+`})`, "{{target}} coverage"),
		)).
		WithPanel(tablePanel("Model in use",
			"The model fleetcast chose for each target by backtest (fleetcast_model_info).",
			"none",
			instant(`max by (target, model) (fleetcast_model_info{`+sel+`})`)).Span(24))
}
