# Stands in for jaegertracing/jaeger: Jaeger v2 built from Go modules, at the official image's path,
# with wget for the healthcheck.
FROM debian:12-slim
RUN apt-get update -q && apt-get install -y -q --no-install-recommends wget && rm -rf /var/lib/apt/lists/*
COPY jaeger /cmd/jaeger/jaeger-linux
ENTRYPOINT ["/cmd/jaeger/jaeger-linux"]
