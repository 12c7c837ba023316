# The IngressoJá node image, built FROM scratch (no registry needed): the build
# context is the root filesystem that scripts/build-images.sh assembles from
# the compiled binaries and the shared libraries `ldd` lists for them. With a
# registry, `FROM debian:bookworm-slim` plus the binary works just as well.
FROM scratch
COPY . /
VOLUME ["/data"]
EXPOSE 7101 9101
ENTRYPOINT ["/usr/local/bin/ingressoja-node"]
CMD ["--config", "/etc/ingressoja/node.toml"]
