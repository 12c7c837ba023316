# Prometheus from Debian's package, FROM scratch (no registry needed).
FROM scratch
COPY . /
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
