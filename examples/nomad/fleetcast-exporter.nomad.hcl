# fleetcast exporter on Nomad: forecasts from Prometheus ranges, served as
# fleetcast_* gauges at /metrics. See demo/README.md, "From the demo to a real
# cluster".
#
#   nomad acl policy apply -description "fleetcast exporter" fleetcast-exporter examples/nomad-acl-exporter.hcl
#   nomad var put nomad/jobs/fleetcast-exporter nomad_token=<secret id of a token with that policy>
#   nomad job run -var 'datacenters=["dc1"]' \
#     -var release_sha256=$(grep linux-amd64 SHA256SUMS | cut -d' ' -f1) \
#     examples/nomad/fleetcast-exporter.nomad.hcl
#
# The task fetches the release archive of `make dist` with an artifact block
# and checks its SHA-256 (var.release_sha256, from the release's SHA256SUMS).
# Prometheus is found through Nomad's service discovery (a service named var.prometheus_service); the exporter registers
# itself as "fleetcast-exporter" so Prometheus can find it in turn (see the
# nomad_sd_configs example in demo/README.md). It reads Nomad periodic jobs
# with a read-only token kept in the Nomad variable
# nomad/jobs/fleetcast-exporter (key nomad_token); leave it out to skip the
# periodic-job demand.

variable "datacenters" {
  type    = list(string)
  default = ["*"]
}

variable "fleetcast_version" {
  type        = string
  default     = "0.1.0"
  description = "The release to run: the archives and SHA256SUMS of `make dist`."
}

variable "release_url" {
  type        = string
  default     = "https://releases.example.com/fleetcast"
  description = "Where the archives of `make dist` are served (any URL Nomad's artifact block fetches: HTTP(S), S3, GCS, git)."
}

variable "release_sha256" {
  type        = string
  description = "SHA-256 of fleetcast-<version>.linux-<arch>.tar.gz, from the release's SHA256SUMS. No default: Nomad refuses an archive that does not match."
}

variable "arch" {
  type        = string
  default     = "amd64"
  description = "CPU architecture of the clients to run on (amd64 or arm64), as Nomad reports it in attr.cpu.arch."
}

variable "prometheus_service" {
  type    = string
  default = "prometheus"
}

job "fleetcast-exporter" {
  datacenters = var.datacenters
  type        = "service"

  group "exporter" {
    constraint {
      attribute = "${attr.cpu.arch}"
      value     = var.arch
    }

    # Several replicas each forecast a shard: --shard i/n, by hash of the labels.
    count = 1

    network {
      port "http" {
        static = 9810
      }
    }

    service {
      name     = "fleetcast-exporter"
      provider = "nomad"
      port     = "http"
      tags     = ["fleetcast", "metrics"]

      check {
        name     = "ready"
        type     = "http"
        path     = "/-/ready"
        interval = "10s"
        timeout  = "2s"
      }
    }

    # The events calendar (events_file, written by the events API) lives in
    # the allocation's data directory: a sticky disk keeps it when the
    # allocation is replaced on the same client, migrate copies it to
    # another client.
    ephemeral_disk {
      sticky  = true
      migrate = true
      size    = 300
    }

    restart {
      attempts = 5
      interval = "10m"
      delay    = "15s"
      mode     = "delay"
    }

    task "exporter" {
      driver = "exec"

      # The release archive of `make dist`, checked against its SHA-256
      # before it is unpacked into the task's local/ directory.
      artifact {
        source      = "${var.release_url}/fleetcast-${var.fleetcast_version}.linux-${var.arch}.tar.gz"
        destination = "local"
        options {
          checksum = "sha256:${var.release_sha256}"
        }
      }

      config {
        command = "local/fleetcast-${var.fleetcast_version}.linux-${var.arch}/fleetcast"
        args = [
          "exporter",
          "--config.file=${NOMAD_TASK_DIR}/fleetcast.yml",
          "--web.listen-address=:${NOMAD_PORT_http}",
          "--log.format=json",
        ]
      }

      # The token for reading periodic jobs, from a Nomad variable only this
      # job can read; never in the job file.
      template {
        destination = "${NOMAD_SECRETS_DIR}/nomad-token"
        perms       = "0400"
        change_mode = "restart"
        data        = <<-EOT
          {{- with nomadVar "nomad/jobs/fleetcast-exporter" }}{{ .nomad_token }}{{ end -}}
        EOT
      }

      # The config, rendered from the addresses Nomad knows. Targets as in
      # examples/fleetcast.yml; edit them here or ship the file as an artifact.
      template {
        destination = "${NOMAD_TASK_DIR}/fleetcast.yml"
        change_mode = "restart"
        data        = <<-EOT
          prometheus:
          {{- range nomadService "${var.prometheus_service}" }}
            url: http://{{ .Address }}:{{ .Port }}
          {{- break }}{{ end }}
            timeout: 2m
          nomad:
            address: http://{{ env "attr.unique.network.ip-address" }}:4646
            token_file: {{ env "NOMAD_SECRETS_DIR" }}/nomad-token
          events_file: {{ env "NOMAD_ALLOC_DIR" }}/data/events.yml
          # The targets of examples/fleetcast.yml (labels as rules/README.md asks).
          targets:
            - name: node_cpu
              query: label_replace(sum by (node_id) (nomad_client_host_cpu_total_ticks), "resource", "cpu", "", "")
              horizons: [15m, 1h, 6h, 1d]
              peak_windows: [1h, 1d]
              capacity:
                query: sum by (node_id) (nomad_client_allocated_cpu + nomad_client_unallocated_cpu)
                on: [node_id]
            - name: job_cpu
              # Nomad's job label arrives as exported_job; copied back to job.
              query: label_replace(sum by (namespace, job, task_group) (label_replace(nomad_client_allocs_cpu_total_ticks, "job", "$1", "exported_job", "(.+)")), "resource", "cpu", "", "")
              horizons: [15m, 1h, 6h, 1d]
              peak_windows: [1h, 1d]
              capacity:
                query: sum by (namespace, job, task_group) (label_replace(nomad_client_allocs_cpu_allocated, "job", "$1", "exported_job", "(.+)"))
                on: [namespace, job, task_group]
              scheduled_demand:
                resource: cpu
                job_label: job
            - name: fleet_cpu
              query: label_replace(sum(nomad_client_host_cpu_total_ticks), "resource", "cpu", "", "")
              horizons: [15m, 1h, 6h, 1d]
              peak_windows: [1h, 1d]
              scheduled_demand:
                resource: cpu
        EOT
      }

      resources {
        cpu    = 1000
        memory = 1024
      }
    }
  }
}
