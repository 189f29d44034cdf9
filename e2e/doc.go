// Package e2e holds fleetcast's end-to-end tests: real Prometheus and
// Alertmanager processes on loopback (started by internal/testenv), the
// simulator as the Nomad cluster, and fleetcast's own parts.
package e2e
