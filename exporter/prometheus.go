package exporter

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/fleetcast/fleetcast/internal/promclient"
)

// Querier is the narrow view of the Prometheus HTTP API the exporter needs;
// a fake stands in for it in tests.
type Querier interface {
	QueryRange(ctx context.Context, query string, r promv1.Range) (model.Matrix, error)
	Query(ctx context.Context, query string, ts time.Time) (model.Vector, error)
}

// promQuerier reads any store that speaks the Prometheus HTTP API.
type promQuerier struct {
	api     promv1.API
	timeout time.Duration
	logger  *slog.Logger
}

// NewPrometheusQuerier builds a Querier from the prometheus section.
func NewPrometheusQuerier(c PrometheusConfig, logger *slog.Logger) (Querier, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	client, err := promclient.New(c.URL, c.HTTPConfig, c.QueryParams, "fleetcast_exporter")
	if err != nil {
		return nil, fmt.Errorf("prometheus.%w", err)
	}
	return &promQuerier{api: promv1.NewAPI(client), timeout: time.Duration(c.Timeout), logger: logger}, nil
}

func (q *promQuerier) QueryRange(ctx context.Context, query string, r promv1.Range) (model.Matrix, error) {
	ctx, cancel := context.WithTimeout(ctx, q.timeout)
	defer cancel()
	v, warn, _, err := q.api.QueryRange(ctx, query, r, promv1.WithTimeout(q.timeout))
	if err != nil {
		return nil, fmt.Errorf("query_range %q [%s, %s] step %s: %w", query, r.Start.UTC().Format(time.RFC3339), r.End.UTC().Format(time.RFC3339), r.Step, err)
	}
	if len(warn) > 0 {
		q.logger.Warn("prometheus warned", "query", query, "warnings", warn)
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("query_range %q: got %s, want a matrix", query, v.Type())
	}
	return m, nil
}

func (q *promQuerier) Query(ctx context.Context, query string, ts time.Time) (model.Vector, error) {
	ctx, cancel := context.WithTimeout(ctx, q.timeout)
	defer cancel()
	v, warn, _, err := q.api.Query(ctx, query, ts, promv1.WithTimeout(q.timeout))
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", query, err)
	}
	if len(warn) > 0 {
		q.logger.Warn("prometheus warned", "query", query, "warnings", warn)
	}
	switch v := v.(type) {
	case model.Vector:
		return v, nil
	case *model.Scalar:
		return model.Vector{{Metric: model.Metric{}, Value: v.Value, Timestamp: v.Timestamp}}, nil
	default:
		return nil, fmt.Errorf("query %q: got %s, want a vector or scalar", query, v.Type())
	}
}
