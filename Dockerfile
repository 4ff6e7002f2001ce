# Custos: multi-stage build on Debian 12 (the same packages as `make`), non-root runtime.
# Built and tested by `make test-container` (scripts/container.sh: podman, the base image made
# with debootstrap where no registry is reachable). Run it read-only, as uid 10001, with all
# capabilities dropped; secrets come in as files (*_FILE), never in the environment.
FROM docker.io/library/debian:12-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config libmicrohttpd-dev \
      libpq-dev libssl-dev libjansson-dev libjwt-dev libcurl4-openssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile VERSION ./
COPY scripts ./scripts
COPY server ./server
COPY migrations ./migrations
# no .git in the build context: the commit comes in as a build argument
ARG CUSTOS_COMMIT=unknown
RUN make -j2 COMMIT="$CUSTOS_COMMIT" build/custos && strip build/custos

FROM docker.io/library/debian:12-slim
# curl for the HEALTHCHECK; libcurl4 and ca-certificates for the JWKS by URL
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmicrohttpd12 libpq5 libssl3 libjansson4 libjwt0 \
      curl libcurl4 ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
 && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin custos
COPY --from=build /src/build/custos /usr/local/bin/custos
COPY LICENSE /usr/share/doc/custos/LICENSE
USER 10001:10001
ENV CUSTOS_LISTEN=0.0.0.0:8443
EXPOSE 8443
# healthy = ready: the database answers, the schema is current and the root key verified
# (/readyz). The certificate names the service, not 127.0.0.1, hence -k; only the status counts.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsSk --max-time 2 "https://127.0.0.1:${CUSTOS_LISTEN##*:}/readyz" >/dev/null || exit 1
ENTRYPOINT ["/usr/local/bin/custos"]
CMD ["serve"]
