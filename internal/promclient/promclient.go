// Package promclient builds the Prometheus HTTP API client the exporter and
// the actuator share: prometheus/common's HTTP client config (basic auth,
// bearer tokens, OAuth2, TLS, proxy, extra headers such as Mimir's
// X-Scope-OrgID) plus query parameters added to every request (Thanos'
// partial_response, dedup).
package promclient

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/api"
	"github.com/prometheus/common/config"
)

// reservedParams are set by the API client itself.
var reservedParams = []string{"query", "start", "end", "step", "time", "timeout", "limit"}

// CheckQueryParams returns an error naming field.<key> for a parameter the
// client sets itself.
func CheckQueryParams(field string, params map[string]string) error {
	for k := range params {
		for _, r := range reservedParams {
			if k == r {
				return fmt.Errorf("%s.%s: is set by fleetcast itself; valid are extra parameters such as partial_response or dedup", field, k)
			}
		}
	}
	return nil
}

// New returns a client for the Prometheus-API store at url. name is the
// client's name in prometheus/common's round tripper (its user agent).
func New(url string, hc config.HTTPClientConfig, params map[string]string, name string) (api.Client, error) {
	rt, err := config.NewRoundTripperFromConfig(hc, name)
	if err != nil {
		return nil, fmt.Errorf("http_config: %w", err)
	}
	if len(params) > 0 {
		rt = &paramsRoundTripper{next: rt, params: params}
	}
	c, err := api.NewClient(api.Config{Address: url, RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("url %q: %w", url, err)
	}
	return c, nil
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
