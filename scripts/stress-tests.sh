#!/usr/bin/env bash
# Runs the integration tests ROUNDS times in a row (default 20) while BUSY busy loops (default 2:
# one per core here) load the CPUs, and reports every failure: a test that fails when the machine
# is busy is a bug (fix the wait, not the timeout). Reuses an existing build (POSTERN_BUILD_DIR,
# default build/); the busy loops are ended by PID whatever happens.
#
# Usage: scripts/stress-tests.sh [ROUNDS] [BUSY] [-- extra gtest arguments]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rounds="${1:-20}"
busy="${2:-2}"
shift $(( $# > 2 ? 2 : $# ))
[ "${1:-}" = "--" ] && shift
bin="${POSTERN_BUILD_DIR:-build}/bin/postern_integration_tests"
[ -x "$bin" ] || { echo "no $bin: build first (scripts/test.sh or cmake --build build)" >&2; exit 2; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
for ((i = 0; i < busy; i++)); do
  # Bounded even if this script is killed without its trap: 3 hours at most.
  timeout 10800 sh -c 'while :; do :; done' &
  pids+=("$!")
done

log_dir="$(mktemp -d /tmp/postern-stress.XXXXXX)"
failed_rounds=0
started=$SECONDS
for ((r = 1; r <= rounds; r++)); do
  log="$log_dir/round-$r.log"
  if "$bin" "$@" >"$log" 2>&1; then
    printf 'round %d/%d: ok (%ds)\n' "$r" "$rounds" "$((SECONDS - started))"
  else
    failed_rounds=$((failed_rounds + 1))
    printf 'round %d/%d: FAILED:\n' "$r" "$rounds"
    grep -E '^\[  FAILED  \] [A-Za-z]' "$log" | sort -u | sed 's/^/    /' || true
  fi
done
printf '%d of %d rounds failed with %d busy loops (%ds); logs in %s\n' \
  "$failed_rounds" "$rounds" "$busy" "$((SECONDS - started))" "$log_dir"
[ "$failed_rounds" -eq 0 ]
