#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build-fuzz/ and runs the PROXY protocol
# parser fuzzer for a bounded time, starting from the committed corpus. New interesting inputs go
# to build-fuzz/corpus/ (never into the repository); a crash leaves its input in
# build-fuzz/artifacts/ and makes this script fail.
#
# Usage: scripts/fuzz.sh [SECONDS]   (default 60; or POSTERN_FUZZ_TIME)
# Environment: POSTERN_FUZZ_BUILD_DIR (build-fuzz), POSTERN_JOBS.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$POSTERN_ROOT"

seconds="${1:-${POSTERN_FUZZ_TIME:-60}}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  postern_log "usage: scripts/fuzz.sh [SECONDS] (a positive number, got '$seconds')"
  exit 2
fi
dir="${POSTERN_FUZZ_BUILD_DIR:-build-fuzz}"

postern_install_missing clang cmake ninja-build
# libFuzzer's runtime lives in the libclang-rt-<major>-dev package on Debian.
clang_major="$(clang --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n1)"
if [ -n "$clang_major" ]; then
  postern_install_missing "libclang-rt-${clang_major}-dev"
fi

postern_log "build: $dir (clang, libFuzzer + ASan + UBSan)"
CC=clang CXX=clang++ postern_configure "$dir" -DPOSTERN_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
postern_build "$dir" proxy_protocol_fuzz

corpus="$dir/corpus/proxy_protocol"
artifacts="$dir/artifacts/"
mkdir -p "$corpus" "$artifacts"
postern_log "fuzz: proxy_protocol_fuzz for ${seconds}s"
# The first corpus folder receives new inputs; the committed seeds are only read.
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  "$dir/bin/proxy_protocol_fuzz" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
  -print_final_stats=1 -artifact_prefix="$artifacts" \
  -dict=tests/fuzz/proxy_protocol.dict \
  "$corpus" tests/fuzz/corpus/proxy_protocol
