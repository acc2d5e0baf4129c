#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, in build-fuzz/) and runs each for a bounded
# time, starting from its committed corpus in tests/fuzz/corpus/<name>/ with its dictionary
# tests/fuzz/<name>.dict:
#   proxy_protocol  the incoming PROXY protocol v1/v2 parser
#   config_loader   the TOML config loader (`postern check`), with the built-in plugins
#   client_hello    a TLS listener's server side fed mutated ClientHellos (SNI, ALPN)
#   hello_sni       the ClientHello SNI peek of tcp listeners with SNI routes (TLS passthrough)
#   http_request    the HTTP/1.1 request parser, chunked decoder and backend head rewriting
#   http_response   the HTTP/1.1 response parser and client head rewriting
# New interesting inputs go to build-fuzz/corpus/<name>/ (never into the repository), emptied at
# the start of each run: libFuzzer replays its whole corpus before -max_total_time counts, and a
# corpus grown by earlier runs would make the run unbounded (POSTERN_FUZZ_KEEP_CORPUS=1 keeps it,
# for long local runs). A crash, leak or timeout leaves its input in build-fuzz/artifacts/ and
# makes this script fail (every fuzzer still runs). Reproduce one with:
#   build-fuzz/bin/<name>_fuzz build-fuzz/artifacts/<file>
#
# Usage: scripts/fuzz.sh [SECONDS [NAME...]]
#   SECONDS: the total time, split evenly between the fuzzers run (default 60, or
#   POSTERN_FUZZ_TIME; at least 1 s each); NAME...: only these fuzzers (default: all of them).
# Environment: POSTERN_FUZZ_BUILD_DIR (build-fuzz), POSTERN_FUZZ_KEEP_CORPUS, POSTERN_JOBS.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$POSTERN_ROOT"

all_fuzzers=(proxy_protocol config_loader client_hello hello_sni http_request http_response)
seconds="${1:-${POSTERN_FUZZ_TIME:-60}}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  postern_log "usage: scripts/fuzz.sh [SECONDS [NAME...]] (a positive number, got '$seconds')"
  exit 2
fi
shift $(($# > 0 ? 1 : 0))
fuzzers=("$@")
[ "${#fuzzers[@]}" -gt 0 ] || fuzzers=("${all_fuzzers[@]}")
for name in "${fuzzers[@]}"; do
  if [[ ! " ${all_fuzzers[*]} " == *" $name "* ]]; then
    postern_log "unknown fuzzer '$name' (known: ${all_fuzzers[*]})"
    exit 2
  fi
done
dir="${POSTERN_FUZZ_BUILD_DIR:-build-fuzz}"

# The config loader and the TLS listener are built from the core's sources and its dependencies.
postern_install_missing "${POSTERN_PACKAGES[@]}" clang
# libFuzzer's runtime lives in the libclang-rt-<major>-dev package on Debian.
clang_major="$(clang --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n1)"
if [ -n "$clang_major" ]; then
  postern_install_missing "libclang-rt-${clang_major}-dev"
fi

postern_log "build: $dir (clang, libFuzzer + ASan + UBSan)"
CC=clang CXX=clang++ postern_configure "$dir" -DPOSTERN_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
postern_build "$dir" "${fuzzers[@]/%/_fuzz}"

# Input bounds: a PROXY header is at most 536 bytes (v2: 16 + 520); a config file of a few KiB
# covers every table; a ClientHello fits in one or two records (the SNI peek decides by 16468 bytes,
# tls::kMaxClientHelloBytes, and is fed a little more); HTTP heads are fuzzed with small limits
# too (tests/fuzz/http_request_fuzz.cpp), so a few KiB reach every limit.
declare -A max_len=([proxy_protocol]=4096 [config_loader]=8192 [client_hello]=8192 [hello_sni]=17000
  [http_request]=8192 [http_response]=8192)

each=$((seconds / ${#fuzzers[@]}))
[ "$each" -ge 1 ] || each=1
artifacts="$dir/artifacts/"
mkdir -p "$artifacts"
failed=()
for name in "${fuzzers[@]}"; do
  corpus="$dir/corpus/$name"
  if [ "${POSTERN_FUZZ_KEEP_CORPUS:-0}" != "1" ]; then
    rm -rf "$corpus"
  fi
  mkdir -p "$corpus"
  postern_log "fuzz: ${name}_fuzz for ${each}s"
  # The first corpus folder receives new inputs; the committed seeds are only read.
  if ! UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    "$dir/bin/${name}_fuzz" \
    -max_total_time="$each" -timeout=10 -rss_limit_mb=2048 -max_len="${max_len[$name]}" \
    -print_final_stats=1 -artifact_prefix="$artifacts" \
    -dict="tests/fuzz/$name.dict" \
    "$corpus" "tests/fuzz/corpus/$name"; then
    failed+=("$name")
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  postern_log "FAILED: ${failed[*]} (inputs in $artifacts)"
  exit 1
fi
