package exporter

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
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
	rt, err := config.NewRoundTripperFromConfig(c.HTTPConfig, "fleetcast_exporter")
	if err != nil {
		return nil, fmt.Errorf("prometheus.http_config: %w", err)
	}
	if len(c.QueryParams) > 0 {
		rt = &paramsRoundTripper{next: rt, params: c.QueryParams}
	}
	client, err := api.NewClient(api.Config{Address: c.URL, RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("prometheus.url: %w", err)
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

// paramsRoundTripper adds the configured extra parameters to every request.
// Prometheus reads URL parameters for GET and POST alike.
type paramsRoundTripper struct {
	next   http.RoundTripper
	params map[string]string
}

func (p *paramsRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	q := r.URL.Query()
	for k, v := range p.params {
		q.Set(k, v)
	}
	r.URL.RawQuery = q.Encode()
	return p.next.RoundTrip(r)
}
