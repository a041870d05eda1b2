# Stands in for otel/opentelemetry-collector-contrib: the lab's Collector built from Go modules
# (collector-config/builder-config.yaml: the components collector.yaml uses), at the contrib image's path.
FROM debian:12-slim
COPY otelcol-obi /otelcol-contrib
ENTRYPOINT ["/otelcol-contrib"]
CMD ["--config=/etc/otelcol-contrib/config.yaml"]
