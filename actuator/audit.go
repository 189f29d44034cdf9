package actuator

import (
	"context"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/prometheus/alertmanager/template"
)

func (a *Actuator) audit(d *decision, out Outcome, took time.Duration) {
	attrs := []slog.Attr{
		slog.Group("alert", "name", clip(d.alert.Labels["alertname"], maxLabelBytes), "status", clip(d.alert.Status, maxLabelBytes),
			"fingerprint", clip(d.alert.Fingerprint, maxLabelBytes), "starts_at", d.alert.StartsAt, "labels", clipLabels(d.alert.Labels)),
		slog.String("key", clip(d.key, maxDetailBytes)),
		slog.String("action", d.action),
		slog.String("object", clip(d.object, maxDetailBytes)),
		slog.String("result", out.Result),
		slog.Int("http_status", out.Code),
		slog.String("reason", clip(out.Detail, maxDetailBytes)),
		slog.Bool("dry_run", a.cur().cfg.Global.DryRun),
		slog.Float64("took_seconds", took.Seconds()),
	}
	if d.policy != nil {
		attrs = append(attrs, slog.String("policy", d.policy.Name))
	}
	if d.query != "" || d.forecast != nil {
		g := []any{"query", clip(d.query, maxDetailBytes)}
		if d.forecast != nil {
			g = append(g, "value", *d.forecast)
		}
		attrs = append(attrs, slog.Group("forecast", g...))
	}
	if d.plan != nil {
		attrs = append(attrs, slog.Any("plan", d.plan))
	}
	if d.room != nil {
		attrs = append(attrs, slog.Any("room", d.room))
	}
	if d.nomad != "" {
		attrs = append(attrs, slog.String("nomad", clip(d.nomad, maxDetailBytes)))
	}
	if d.rung != nil {
		attrs = append(attrs, slog.Int("escalation_rung", *d.rung))
	}
	lvl := slog.LevelInfo
	switch out.Result {
	case ResultError, ResultForecastError, ResultDeploymentBlocked, ResultRejected, ResultStopped, ResultNoLeader:
		lvl = slog.LevelWarn
	}
	if d.rung != nil || d.overwrote {
		lvl = slog.LevelWarn // escalations and overwritten changes are said loudly
	}
	a.o.Audit.LogAttrs(context.Background(), lvl, "decision", attrs...)
}

// Bounds on what one alert may put into a log line or a response: label
// values come from whoever can post alerts, and one 900 KB value once made
// megabytes of logs.
const (
	maxLabelBytes  = 256
	maxDetailBytes = 2048
)

// clip shortens s to at most n bytes (on a rune boundary), saying how long
// it was.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:cut], len(s))
}

func clipLabels(l template.KV) map[string]string {
	out := make(map[string]string, len(l))
	for k, v := range l {
		out[clip(k, maxLabelBytes)] = clip(v, maxLabelBytes)
	}
	return out
}
