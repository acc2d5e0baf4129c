#!/usr/bin/env bash
# The soak: SECONDS (default 600) of mixed load through a real postern on loopback, every stream
# checksummed end to end, backends killed and restarted during the run, postern's RSS, descriptors
# and CPU sampled every second. See tests/soak/README.md.
#
#   tests/soak/run.sh [SECONDS] [--postern PATH] [--out DIR] [more: tests/soak/run.sh --help]
#
# Without --postern it builds postern and the plugins the soak uses into build/ (RelWithDebInfo,
# as scripts/test.sh does; a no-op when up to date). Needs python3 and openssl; nothing from PyPI.
set -euo pipefail

SOAK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SOAK_DIR/../.." && pwd)"

postern=""
forward=()
while (($#)); do
  case "$1" in
    -h | --help) exec python3 "$SOAK_DIR/soak.py" --postern - --help ;;
    --postern) [ $# -ge 2 ] || { echo "--postern needs a path" >&2; exit 2; }; postern="$2"; shift 2 ;;
    --postern=*) postern="${1#*=}"; shift ;;
    *) forward+=("$1"); shift ;;
  esac
done

if [ -z "$postern" ]; then
  # shellcheck source=scripts/lib.sh
  source "$REPO_DIR/scripts/lib.sh"
  build_dir="${POSTERN_BUILD_DIR:-$REPO_DIR/build}"
  postern_log "building postern into $build_dir"
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    postern_configure "$build_dir" -DPOSTERN_SANITIZE=OFF >/dev/null
  fi
  postern_build "$build_dir" postern postern_balancer_round_robin postern_discovery_static postern_probe_tcp
  postern="$build_dir/bin/postern"
fi
[ -x "$postern" ] || { echo "not an executable: $postern" >&2; exit 1; }
postern="$(cd "$(dirname "$postern")" && pwd)/$(basename "$postern")"

exec python3 "$SOAK_DIR/soak.py" --postern "$postern" "${forward[@]}"
