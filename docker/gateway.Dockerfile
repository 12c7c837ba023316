# The IngressoJá gateway image, FROM scratch like the node's (see node.Dockerfile).
FROM scratch
COPY . /
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/ingressoja-gateway"]
CMD ["--config", "/etc/ingressoja/gateway.toml"]
