# A web service and its cache: two groups of one Nomad job.
job "storefront" {
  datacenters = ["dc1"]
  type        = "service"

  constraint {
    attribute = "${attr.cpu.arch}"
    value     = "amd64"
  }

  update {
    max_parallel = 1
  }

  group "frontend" {
    count = 3

    network {
      port "http" {
        static = 8080
        to     = 80
      }
      port "metrics" {}
    }

    restart {
      attempts = 2
      interval = "30m"
      delay    = "15s"
      mode     = "fail"
    }

    service {
      name = "storefront-web"
      port = "http"

      check {
        type     = "script"
        name     = "alive"
        task     = "nginx"
        command  = "/usr/bin/curl"
        args     = ["-fsS", "http://127.0.0.1/health"]
        interval = "10s"
        timeout  = "2s"
      }

      check {
        type     = "http"
        path     = "/"
        interval = "30s"
        timeout  = "5s"
      }
    }

    task "nginx" {
      driver = "docker"

      config {
        image = "nginx:1.25"
        args  = ["nginx", "-g", "daemon off;"]
        ports = ["http"]
      }

      env {
        UPSTREAM = "cache.service.consul"
        WORKERS  = 4
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }

  group "cache" {
    ephemeral_disk {
      size = 2048
    }

    constraint {
      attribute = "${meta.storage}"
      value     = "ssd"
    }

    task "redis" {
      driver = "docker"

      config {
        image   = "redis:7"
        command = "redis-server"
        args    = ["--appendonly", "yes"]
      }

      resources {
        cores      = 2
        memory     = 1024
        memory_max = 2048
      }

      template {
        data        = "maxmemory 1gb"
        destination = "local/redis.conf"
      }
    }

    task "log-shipper" {
      driver = "exec"

      config {
        command = "/usr/local/bin/ship"
      }
    }
  }
}
