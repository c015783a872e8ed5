# syntax=docker/dockerfile:1
#
# Production image: the release binary plus static/ and locales/. Templates (askama) and migrations
# (sqlx::migrate!) are compiled into the binary. The image has no PostgreSQL of its own, so it
# needs DATABASE_URL (see docker-compose.yml); the embedded-database mode is for local use only.

FROM rust:1-bookworm AS builder
WORKDIR /src
# Compile-time checked queries use the committed .sqlx/ data instead of a live database.
ENV SQLX_OFFLINE=true
COPY . .
# Cache mounts keep the registry and the target dir between builds; the binary is copied out
# because a cache mount is not part of the image layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
 && install -m 0755 target/release/overgang /usr/local/bin/overgang

FROM debian:bookworm-slim AS runtime
# curl is only for the HEALTHCHECK (also used by docker-compose.yml).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 overgang \
 && useradd --system --uid 10001 --gid overgang --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin overgang
WORKDIR /app
COPY --from=builder /usr/local/bin/overgang /usr/local/bin/overgang
COPY static/ /app/static/
# The parents' pages' message catalogues, read at start (OVERGANG_LOCALES_DIR overrides).
COPY locales/ /app/locales/
RUN mkdir -p /app/data && chown overgang:overgang /app/data
USER overgang
ENV OVERGANG_ADDR=0.0.0.0:8080 \
    OVERGANG_DATA_DIR=/app/data \
    RUST_LOG=info
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
# The app migrates on start; demo data only on request: `docker compose run --rm app overgang seed-demo`.
CMD ["overgang", "serve"]
