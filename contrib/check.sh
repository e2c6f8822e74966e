#!/usr/bin/env bash
# Checks what ships beside the binary: the systemd units (contrib/*.service, *.timer) with
# `systemd-analyze verify` and the user entry with `systemd-sysusers --dry-run` where systemd
# is installed, and the container image (Dockerfile):
# built, then `demo` run in it, where a container engine runs; without one, the Dockerfile
# is checked against what the image must be (non-root, a /data volume, sources that exist).
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
    echo "contrib/check.sh: $*" >&2
    exit 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if command -v systemd-analyze >/dev/null 2>&1; then
    for unit in contrib/*.service contrib/*.timer; do
        # The binary need not be installed on this machine: point ExecStart at one that is.
        sed 's#/usr/local/bin/jira-mirror#/bin/true#' "$unit" > "$tmp/$(basename "$unit")"
    done
    # It exits 0 on unknown keys and similar: any word from it is a failure.
    out=$(cd "$tmp" && systemd-analyze verify ./*.service ./*.timer 2>&1) || fail "systemd-analyze verify: $out"
    [ -z "$out" ] || fail "systemd-analyze verify: $out"
    echo "contrib: systemd units verified ($(cd contrib && echo *.service *.timer))"
    if command -v systemd-sysusers >/dev/null 2>&1; then
        out=$(systemd-sysusers --dry-run "$PWD/contrib/jira-mirror.sysusers" 2>&1) \
            || fail "systemd-sysusers: $out"
        echo "contrib: sysusers entry checked"
    fi
else
    echo "contrib: systemd-analyze is not installed here; units not verified"
fi

if docker info >/dev/null 2>&1; then
    docker build --quiet -t jira-mirror:check . >/dev/null
    docker run --rm jira-mirror:check demo --issues 20 > "$tmp/demo.out"
    grep -q '^backfill: 20 saved' "$tmp/demo.out" || fail "demo in the image: $(cat "$tmp/demo.out")"
    echo "contrib: image built; demo ran in it"
else
    grep -Eq '^USER (nonroot|[1-9][0-9]*)' Dockerfile || fail "the image must run as a non-root user"
    grep -q '^VOLUME \["/data"\]' Dockerfile || fail "the data directory must be a volume"
    grep -q '^ENTRYPOINT \["/usr/local/bin/jira-mirror"\]' Dockerfile || fail "entrypoint"
    grep -q 'cargo build --release --locked --bin jira-mirror' Dockerfile || fail "release build"
    # Every file the build copies from the context exists (and .dockerignore keeps target/ out).
    while read -r src; do
        [ -e "$src" ] || fail "COPY source $src is missing"
    done < <(sed -n 's/^COPY \([^-][^ ]*\) .*/\1/p' Dockerfile)
    grep -qx 'target/' .dockerignore || fail ".dockerignore must leave out target/"
    echo "contrib: no container engine here; Dockerfile checked statically"
fi
