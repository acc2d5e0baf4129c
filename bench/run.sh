#!/usr/bin/env bash
# Postern benchmark against direct / HAProxy (`mode tcp`, `mode http`) / nginx (`stream`,
# `proxy_pass`). See bench/README.md.
#
#   bench/run.sh [--quick] [--scenarios keepalive,newconn,bulk,idle,tls,http,ws] [--threads 1,2]
#                [--rounds N] [--postern PATH] [more options: bench/run.sh --help]
#
# This wrapper installs what is missing (Debian packages, apt-get only when dpkg says a package
# is not installed), builds a Release postern into build-bench/ unless --postern is given, then
# hands over to bench/lib/bench.py, which owns every process it starts.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
BUILD_DIR="${POSTERN_BENCH_BUILD_DIR:-$REPO_DIR/build-bench}"

# openssl (certificates), gcc + libc6-dev + libssl-dev (the wrk shim of the TLS scenarios, and
# ws_bench, the WebSocket backend and load client of the ws-* scenarios)
PACKAGES=(haproxy nginx libnginx-mod-stream wrk nghttp2-client python3 openssl gcc libc6-dev
  libssl-dev)

log() { printf '==> %s\n' "$*" >&2; }

usage() {
  cat <<'EOF'
usage: bench/run.sh [options]

  --quick                 CI smoke run: 2 s per run, 1 round, 1 thread, 500 idle connections,
                          < 90 s; fails unless every target answered without socket errors
  --scenarios LIST        comma list of keepalive,newconn,bulk,idle,
                          tls-hs-ecdsa,tls-hs-rsa,tls-keepalive,reload,
                          http-keepalive,http-newconn,http-metrics,ws-idle,
                          ws-echo; groups: "tcp" (the first four), "tls" (the
                          three tls-*), "http" (the three http-*), "ws", "l7"
                          (http + ws)                                  (default: all;
                          quick: the http/ws ones only when the postern binary
                          has HTTP listeners)
  --targets LIST          comma list of direct,postern,haproxy,nginx  (default: all)
  --threads LIST          proxy threads/processes, e.g. 1,2           (default: 1,2; quick: 1)
  --rounds N              rounds of A B C D                           (default: 3; quick: 1)
  --duration S            seconds measured per wrk run                (default: 10; quick: 2)
  --warmup S              unmeasured wrk seconds before each run      (default: 2; quick: 0)
  --idle-conns N          idle connections in the idle scenario       (default: 5000; quick: 500)
  --ws-sessions N         upgraded sessions in the ws-idle scenario   (default: 10000; quick: 200)
  --postern PATH          postern binary to test (default: build Release into build-bench/)
  --out DIR               where results/<date>-<host>.md and latest.md go (default: bench/results)
  --keep-tmp              keep the temp dir with configs and logs
  --no-install            never call apt-get (fail if something is missing)
  --nice N                run the driver and everything it starts at nice N (e.g. -10 on a
                          shared machine; same for every target)
  --quiet-wait S          before each run wait up to S s until other processes use less than
                          --quiet-below PCT (default 15) % of the machine
EOF
}

postern=""
install=1
forward=()
while (($#)); do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --postern) [ $# -ge 2 ] || { usage >&2; exit 2; }; postern="$2"; shift 2 ;;
    --postern=*) postern="${1#*=}"; shift ;;
    --no-install) install=0; shift ;;
    *) forward+=("$1"); shift ;;
  esac
done

# --- packages -------------------------------------------------------------------------------
missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$install" -eq 0 ]; then
    log "missing packages: ${missing[*]} (and --no-install given)"; exit 1
  fi
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
      log "missing packages (${missing[*]}) and not root: install them and run again"; exit 1
    fi
  fi
  log "installing missing packages: ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# --- postern --------------------------------------------------------------------------------
if [ -z "$postern" ]; then
  log "building postern (Release) in $BUILD_DIR"
  cmake -S "$REPO_DIR" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >"${TMPDIR:-/tmp}/postern-bench-cmake.log" 2>&1 || {
    cat "${TMPDIR:-/tmp}/postern-bench-cmake.log" >&2; log "cmake failed"; exit 1; }
  if ! ninja -C "$BUILD_DIR" -j"$(nproc)" postern postern_balancer_round_robin \
      postern_discovery_static postern_probe_tcp; then
    log "build failed (use --postern PATH to benchmark an existing binary)"; exit 1
  fi
  postern="$BUILD_DIR/bin/postern"
  forward+=(--postern-built)
fi
[ -x "$postern" ] || { log "not an executable: $postern"; exit 1; }
postern="$(cd "$(dirname "$postern")" && pwd)/$(basename "$postern")"

exec python3 "$BENCH_DIR/lib/bench.py" --postern "$postern" --repo "$REPO_DIR" "${forward[@]}"
