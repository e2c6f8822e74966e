# jira-mirror in a container: built from this repository, run as a non-root user on a
# distroless base (glibc, CA certificates, nothing else), the data directory a volume.
#
#   docker build -t jira-mirror .
#   docker run --rm -v jira-mirror-data:/data jira-mirror demo
#   docker run -d --name jira-mirror --stop-timeout 70 -v jira-mirror-data:/data \
#       -v /etc/jira-mirror:/config:ro --env-file /etc/jira-mirror/secrets.env jira-mirror
#
# `--stop-timeout 70`: `docker stop` sends SIGTERM and kills after 10 s by default, while
# `run` drains for up to [run] shutdown_grace_secs (30 s) per step; killed earlier, it loses
# nothing (the next start repairs) but logs a noisy recovery.
# The config's data_dir should be "/data" (or a folder below it); secrets reach it as
# environment variables that the config names as ${VAR}. contrib/check.sh builds and runs
# this image where a container engine runs, and checks this file otherwise.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin jira-mirror \
    && mkdir -p /out/data \
    && cp target/release/jira-mirror /out/jira-mirror

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/jira-mirror /usr/local/bin/jira-mirror
# An empty /data owned by the image's non-root user (65532), so a new volume is writable.
COPY --from=build --chown=65532:65532 /out/data /data
USER nonroot
WORKDIR /data
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/jira-mirror"]
CMD ["--config", "/config/jira-mirror.toml", "run"]
