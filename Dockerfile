# MetaStore-C image for users: build on Debian bookworm, run on a slim
# bookworm with only the runtime libraries.
#
#   docker build -t metastore-c:latest .
#   docker compose -f docker/compose-3.yaml up      (or docker-compose)
#
# The test image (`make docker-image-local`, docs/docker.md) is built FROM
# scratch from host binaries instead, with the same entrypoint, user, paths
# and tag, so what the Docker tests prove holds for this image too.
ARG BASE=debian:bookworm-slim

FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config \
      libuv1-dev librocksdb-dev libprotobuf-c-dev protobuf-c-compiler \
      libyaml-dev check \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make BUILD=/build /build/metastored /build/metastore-cli

FROM ${BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends libuv1 librocksdb7.8 \
      libprotobuf-c1 libyaml-0-2 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 metastore \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin metastore \
 && mkdir -p /etc/metastore /var/lib/metastore \
 && chown metastore:metastore /var/lib/metastore
COPY --from=build /build/metastored /build/metastore-cli /usr/local/bin/
COPY configs/config.yaml /etc/metastore/config.yaml
USER 10001:10001
VOLUME ["/var/lib/metastore"]
EXPOSE 2379 2380 2381
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/metastore-cli", "--endpoints=127.0.0.1:2379", "--dial-timeout=1s", "--command-timeout=2s", "endpoint", "health"]
ENTRYPOINT ["/usr/local/bin/metastored"]
CMD ["--config", "/etc/metastore/config.yaml", "--data-dir", "/var/lib/metastore"]
