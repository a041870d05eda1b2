# Stands in for nginx:1.28.0 where no registry is reachable: Debian's nginx, laid out like the
# official image (conf.d/ included by the http block, logs to stdout/stderr, foreground).
FROM debian:12
RUN apt-get update -q && apt-get install -y -q --no-install-recommends nginx \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default \
 && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
CMD ["nginx", "-g", "daemon off;"]
