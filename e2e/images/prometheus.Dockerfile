# Stands in for prom/prometheus: Debian's Prometheus (2.42), with the official image's entrypoint,
# working directory and wget for the healthcheck.
FROM debian:12-slim
RUN apt-get update -q && apt-get install -y -q --no-install-recommends prometheus wget \
 && rm -rf /var/lib/apt/lists/* && mkdir -p /prometheus
WORKDIR /prometheus
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
