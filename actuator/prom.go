package actuator

import (
	"context"
	"fmt"
	"math"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/fleetcast/fleetcast/internal/promclient"
)

// Sample is one series of a forecast query's answer.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Forecasts reads forecasts at action time. PromReader implements it on the
// Prometheus HTTP API; tests use a map.
type Forecasts interface {
	Query(ctx context.Context, query string, at time.Time) ([]Sample, error)
}

// PromReader queries Prometheus (or any store with its API).
type PromReader struct {
	API     promv1.API
	Timeout time.Duration
}

// NewPromReader builds a reader for the Prometheus at url, with no
// authentication.
func NewPromReader(url string, timeout time.Duration) (*PromReader, error) {
	return NewPromReaderFromConfig(PromConfig{URL: url, Timeout: model.Duration(timeout), HTTPConfig: config.DefaultHTTPClientConfig})
}

// NewPromReaderFromConfig builds a reader from the prometheus section: its
// http_config and query_params as the exporter reads its own. An empty URL
// means http://127.0.0.1:9090, a zero timeout 10s.
func NewPromReaderFromConfig(c PromConfig) (*PromReader, error) {
	if c.URL == "" {
		c.URL = DefaultPrometheusURL
	}
	cl, err := promclient.New(c.URL, c.HTTPConfig, c.QueryParams, "fleetcast_actuator")
	if err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	return &PromReader{API: promv1.NewAPI(cl), Timeout: durOr(c.Timeout, defaultPromTimeout)}, nil
}

// Query runs an instant query and returns its samples; scalars come back as
// one sample without labels.
func (p *PromReader) Query(ctx context.Context, q string, at time.Time) ([]Sample, error) {
	if p.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.Timeout)
		defer cancel()
	}
	v, _, _, err := p.API.Query(ctx, q, at)
	if err != nil {
		return nil, fmt.Errorf("prometheus query %q: %w", q, err)
	}
	switch r := v.(type) {
	case model.Vector:
		out := make([]Sample, 0, len(r))
		for _, s := range r {
			l := make(map[string]string, len(s.Metric))
			for k, v := range s.Metric {
				l[string(k)] = string(v)
			}
			out = append(out, Sample{Labels: l, Value: float64(s.Value)})
		}
		return out, nil
	case *model.Scalar:
		return []Sample{{Value: float64(r.Value)}}, nil
	default:
		return nil, fmt.Errorf("prometheus query %q: got %s, want an instant vector or scalar", q, v.Type())
	}
}

// scalar reduces an answer to one number: the largest finite value, the
// safe reading of a predicted peak.
func scalar(q string, s []Sample) (float64, error) {
	best, ok := math.Inf(-1), false
	for _, x := range s {
		if math.IsNaN(x.Value) || math.IsInf(x.Value, 0) {
			continue
		}
		if x.Value > best {
			best, ok = x.Value, true
		}
	}
	if !ok {
		return 0, fmt.Errorf("query %q returned no finite sample", q)
	}
	return best, nil
}
