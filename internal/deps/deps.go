// Package deps pins the modules chosen for fleetcast (see ../../README.md) in
// go.mod while the packages that use them are being written in parallel, so
// that no two changes race on go.mod. Remove an import here once a real
// package imports the module.
package deps

import (
	_ "github.com/grafana/grafana-foundation-sdk/go/dashboard"
	_ "github.com/hashicorp/cronexpr"
	_ "github.com/hashicorp/nomad/api"
	_ "github.com/prometheus/alertmanager/template"
	_ "github.com/prometheus/client_golang/api/prometheus/v1"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/common/config"
	_ "github.com/prometheus/common/model"
	_ "github.com/prometheus/exporter-toolkit/web"
	_ "github.com/prometheus/prometheus/promql/parser"
	_ "gonum.org/v1/gonum/mat"
	_ "gonum.org/v1/gonum/optimize"
	_ "gonum.org/v1/plot"
	_ "gopkg.in/yaml.v3"
)
