# Custos: multi-stage build on Debian 12 (the same packages as `make`), non-root runtime.
FROM debian:12-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config libmicrohttpd-dev \
      libpq-dev libssl-dev libjansson-dev libjwt-dev libcurl4-openssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY scripts ./scripts
COPY server ./server
COPY migrations ./migrations
RUN make build/custos && strip build/custos

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmicrohttpd12 libpq5 libssl3 libjansson4 libjwt0 \
      libcurl4 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin custos
COPY --from=build /src/build/custos /usr/local/bin/custos
USER 10001:10001
ENV CUSTOS_LISTEN=0.0.0.0:8443
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/custos"]
CMD ["serve"]
