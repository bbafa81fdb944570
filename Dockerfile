# syntax=docker/dockerfile:1.7
# One image per cinema binary, from one build:
#   docker build --build-arg BIN=cinema-seats -t <registry>/cinema/cinema-seats:<tag> .
# BIN: cinema-screening | cinema-seats | cinema-payment | cinema-reservation |
#      cinema-notification | cinema-loyalty | cinema-orchestrator
# The result: the binary (glibc-linked, built on Debian 12) on distroless/cc-debian12 (glibc, libgcc,
# CA certificates, no shell), running as the distroless `nonroot` user (65532).
# The gateway uses the upstream Envoy image; its config and descriptor set come from the
# Helm chart (ConfigMaps).

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS build
ARG BIN
RUN test -n "${BIN}" || (echo "--build-arg BIN=<binary> is required" && false)
WORKDIR /src
COPY . .
# protox compiles the protos (no protoc); diesel links no libpq (diesel-async, pure Rust).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin "${BIN}" \
    && install -D "target/release/${BIN}" "/out/app"

FROM gcr.io/distroless/cc-debian12:nonroot
ARG BIN
LABEL org.opencontainers.image.title="${BIN}" \
      org.opencontainers.image.source="https://github.com/cinema/cinema" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/app /usr/local/bin/app
USER 65532:65532
EXPOSE 50051
ENV CINEMA_LISTEN_ADDR=0.0.0.0:50051 CINEMA_LOG_FORMAT=json
ENTRYPOINT ["/usr/local/bin/app"]
