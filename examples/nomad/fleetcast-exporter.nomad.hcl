# fleetcast exporter on Nomad: forecasts from Prometheus ranges, served as
# fleetcast_* gauges at /metrics. See demo/README.md, "From the demo to a real
# cluster".
#
#   nomad job run -var 'datacenters=["dc1"]' examples/nomad/fleetcast-exporter.nomad.hcl
#
# Needs on the clients: the fleetcast binary at var.fleetcast_path (the exec
# driver's chroot includes /usr). Prometheus is found through Nomad's service
# discovery (a service named var.prometheus_service); the exporter registers
# itself as "fleetcast-exporter" so Prometheus can find it in turn (see the
# nomad_sd_configs example in demo/README.md). It reads Nomad periodic jobs
# with a read-only token kept in the Nomad variable
# nomad/jobs/fleetcast-exporter (key nomad_token); leave it out to skip the
# periodic-job demand.

variable "datacenters" {
  type    = list(string)
  default = ["*"]
}

variable "fleetcast_path" {
  type        = string
  default     = "/usr/local/bin/fleetcast"
  description = "Where the fleetcast binary is installed on the clients."
}

variable "prometheus_service" {
  type    = string
  default = "prometheus"
}

job "fleetcast-exporter" {
  datacenters = var.datacenters
  type        = "service"

  group "exporter" {
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

    restart {
      attempts = 5
      interval = "10m"
      delay    = "15s"
      mode     = "delay"
    }

    task "exporter" {
      driver = "exec"

      config {
        command = var.fleetcast_path
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
              query: label_replace(sum by (namespace, exported_job, task_group) (nomad_client_allocs_cpu_total_ticks), "resource", "cpu", "", "")
              horizons: [15m, 1h, 6h, 1d]
              peak_windows: [1h, 1d]
              capacity:
                query: sum by (namespace, exported_job, task_group) (nomad_client_allocs_cpu_allocated)
                on: [namespace, exported_job, task_group]
              scheduled_demand:
                resource: cpu
                job_label: exported_job
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
