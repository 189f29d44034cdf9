#!/usr/bin/env bash
# Installs the real Prometheus, promtool, Alertmanager and amtool that the
# demo and the end-to-end tests run. Idempotent: does nothing when they are
# already on PATH (Debian names Alertmanager prometheus-alertmanager).
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if have prometheus && have promtool && (have alertmanager || have prometheus-alertmanager) && have amtool; then
	echo "tools: prometheus, promtool, alertmanager and amtool are installed"
	exit 0
fi

if have apt-get; then
	SUDO=""
	if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
	echo "tools: installing Debian's prometheus and prometheus-alertmanager packages"
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		prometheus prometheus-alertmanager >/dev/null
	# The packages enable services where systemd runs; fleetcast starts its own
	# processes on loopback, so nothing here depends on them.
	exit 0
fi

cat >&2 <<'MSG'
tools: cannot install automatically (no apt-get here).
Install these and put them on PATH, or point the variables at them:
  prometheus and promtool (2.x or 3.x)   FLEETCAST_PROMETHEUS, FLEETCAST_PROMTOOL
  alertmanager and amtool (0.25 or later) FLEETCAST_ALERTMANAGER
From source with Go:
  go install github.com/prometheus/prometheus/cmd/prometheus@v0.316.0
  go install github.com/prometheus/prometheus/cmd/promtool@v0.316.0
  go install github.com/prometheus/alertmanager/cmd/alertmanager@v0.35.0
  go install github.com/prometheus/alertmanager/cmd/amtool@v0.35.0
MSG
exit 1
