#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit + integration) three times: in a
# normal RelWithDebInfo build (build/), under AddressSanitizer + UndefinedBehaviorSanitizer
# (build-asan/, Debug -O1) and under ThreadSanitizer (build-tsan/, Debug -O1; which tests that
# pass runs, and why, is said at the TSan pass below). Every pass runs even if an earlier one
# fails; exits non-zero if anything failed. .ci/run calls exactly this.
#
# Environment: POSTERN_JOBS (default: nproc), POSTERN_BUILD_DIR (build), POSTERN_ASAN_BUILD_DIR
# (build-asan), POSTERN_TSAN_BUILD_DIR (build-tsan), POSTERN_SKIP_ASAN=1 / POSTERN_SKIP_TSAN=1 to
# leave out a sanitizer pass (local use; CI runs all three).
# Also: the .deb packages built from build/ and checked (tests/packaging/deb_test.sh), and the
# Windows build, its unit tests and the MSI under wine (scripts/test-windows.sh;
# POSTERN_SKIP_WINDOWS=1 skips it locally, CI runs it).
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$POSTERN_ROOT"

build_dir="${POSTERN_BUILD_DIR:-build}"
asan_dir="${POSTERN_ASAN_BUILD_DIR:-build-asan}"
tsan_dir="${POSTERN_TSAN_BUILD_DIR:-build-tsan}"
jobs="$(postern_jobs)"
started=$SECONDS

postern_install_missing "${POSTERN_PACKAGES[@]}"
# Real peers of the integration tests: nginx and HAProxy as backends that parse PROXY headers for
# real, dnsmasq as the DNS server of the dns discovery tests (dnsmasq-base: the binary without the
# system service), curl and python3-websockets as the HTTP and WebSocket clients and servers of
# the http_* tests (the tests that need them are skipped where they are missing).
postern_install_missing nginx haproxy dnsmasq-base curl python3-websockets

run_ctest() {
  # --no-tests=error: a tree that registered no test is a failure, not a pass.
  ctest --test-dir "$1" --output-on-failure --no-tests=error -j "$jobs"
}

failed=()

postern_log "build: $build_dir (RelWithDebInfo)"
postern_configure "$build_dir" -DPOSTERN_SANITIZE=OFF
postern_build "$build_dir"
postern_log "tests: $build_dir"
run_ctest "$build_dir" || failed+=("tests in $build_dir")

# The admin endpoint against real peers (tests/admin/, about 20 s): the dashboard in Debian's
# chromium (driven over the DevTools protocol on a pipe; screenshot in $build_dir/test-artifacts)
# and /metrics checked by Debian's prometheus (promtool check metrics; a prometheus server the test
# starts on loopback sees postern_backend_up go 1 -> 0). Installing the prometheus package may
# start its system service where the image allows it: one this install started is stopped again
# (the test runs its own server). Skipped, loudly, only when the packages cannot be installed.
prometheus_preinstalled=0
if dpkg-query -W -f='${Status}' prometheus 2>/dev/null | grep -q 'install ok installed'; then
  prometheus_preinstalled=1
fi
if postern_install_missing chromium prometheus; then
  if [ "$prometheus_preinstalled" = 0 ]; then
    as_root=()
    [ "$(id -u)" -eq 0 ] || as_root=(sudo)
    if [ -d /run/systemd/system ]; then
      "${as_root[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
    elif [ -x /etc/init.d/prometheus ] && /etc/init.d/prometheus status >/dev/null 2>&1; then
      postern_log "stopping the system prometheus the package install started"
      "${as_root[@]}" /etc/init.d/prometheus stop || true
    fi
  fi
  for admin_test in browser_test.py prometheus_test.py; do
    postern_log "tests: tests/admin/$admin_test"
    admin_rc=0
    python3 "tests/admin/$admin_test" --postern "$build_dir/bin/postern" \
      --artifacts "$build_dir/test-artifacts" || admin_rc=$?
    # 77: chromium or prometheus not found; acceptable only where nothing could be installed.
    if [ "$admin_rc" = 77 ] && ! command -v dpkg-query >/dev/null 2>&1; then
      postern_log "SKIPPED tests/admin/$admin_test: its tool is missing and no dpkg to install it"
    elif [ "$admin_rc" != 0 ]; then
      failed+=("tests/admin/$admin_test")
    fi
  done
else
  postern_log "SKIPPED tests/admin (dashboard in chromium, Prometheus scrape):" \
    "chromium and prometheus could not be installed"
fi

# The .deb packages from the tree just tested, checked in a scratch root (and installed for real,
# then purged, when root): tests/packaging/deb_test.sh.
postern_log "packaging: .deb from $build_dir"
postern_install_missing dpkg-dev systemd adduser groff-base mandoc logrotate
python3 tests/packaging/md2man_test.py || failed+=("man page converter (tests/packaging/md2man_test.py)")
if debs="$(scripts/package-deb.sh --build-dir "$build_dir")"; then
  # shellcheck disable=SC2086  # two paths, one per line
  tests/packaging/deb_test.sh $debs || failed+=("packaging (.deb)")
else
  failed+=("packaging (.deb build)")
fi

if [ "${POSTERN_SKIP_ASAN:-0}" != "1" ]; then
  export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
  postern_log "build: $asan_dir (AddressSanitizer + UndefinedBehaviorSanitizer)"
  # Debug at -O1: asserts on, usable stack traces, and it compiles in half the time of -O2 (which
  # matters on 2 cores: the sanitizer pass is the second full build).
  postern_configure "$asan_dir" -DPOSTERN_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
    "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1" "-DCMAKE_C_FLAGS_DEBUG=-g -O1"
  postern_build "$asan_dir"
  postern_log "tests: $asan_dir (ASAN_OPTIONS=$ASAN_OPTIONS UBSAN_OPTIONS=$UBSAN_OPTIONS)"
  run_ctest "$asan_dir" || failed+=("tests in $asan_dir")
fi

if [ "${POSTERN_SKIP_TSAN:-0}" != "1" ]; then
  # ThreadSanitizer over the whole suite (unit, integration, service), not a subset: on 2 cores it
  # costs about 7 CPU-minutes to build without ccache and 2 to 3 minutes to run (the integration
  # tests mostly wait on sockets and timers, which TSan does not slow), and only the whole suite
  # has every thread interaction: workers, control thread (discovery, probes, snapshot swaps),
  # TLS, splice, the access log and graceful shutdown.
  # tests/tsan.supp: only reports provably outside our code (libstdc++'s atomic<shared_ptr>,
  # OpenSSL's certificate cache), each explained there. Reports do not stop a process (all of them are printed); one makes a unit
  # test exit 66, and the integration harness fails a test whose postern printed one.
  export TSAN_OPTIONS="suppressions=$POSTERN_ROOT/tests/tsan.supp:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
  postern_log "build: $tsan_dir (ThreadSanitizer)"
  postern_configure "$tsan_dir" -DPOSTERN_TSAN=ON -DCMAKE_BUILD_TYPE=Debug \
    "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1" "-DCMAKE_C_FLAGS_DEBUG=-g -O1"
  postern_build "$tsan_dir"
  # GCC 12's TSan runtime expects the memory layout of at most 28 bits of mmap randomisation; on
  # kernels set higher it dies at start ("FATAL: ThreadSanitizer: unexpected memory mapping").
  # Then the tests run with randomisation off (setarch -R, inherited by every postern started).
  tsan_run=()
  if [ "$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 28)" -gt 28 ]; then
    tsan_run=(setarch "$(uname -m)" -R)
  fi
  postern_log "tests: $tsan_dir (TSAN_OPTIONS=$TSAN_OPTIONS${tsan_run[*]:+, under ${tsan_run[*]}})"
  "${tsan_run[@]}" ctest --test-dir "$tsan_dir" --output-on-failure --no-tests=error -j "$jobs" \
    || failed+=("tests in $tsan_dir")
fi

# libFuzzer (clang, ASan + UBSan), bounded: the PROXY protocol parser, the config loader, a TLS
# listener's ClientHello handling, the ClientHello SNI peek and the HTTP request/response parsers
# share POSTERN_FUZZ_TIME seconds (60), from tests/fuzz/corpus/.
"$POSTERN_ROOT/scripts/fuzz.sh" "${POSTERN_FUZZ_TIME:-60}" || failed+=("fuzzing (scripts/fuzz.sh)")

# Windows: MinGW cross-build, unit tests under wine, the MSI installed and run as a service under
# wine (dependencies cross-built once, then cached: see scripts/windows/build-deps.sh).
if [ "${POSTERN_SKIP_WINDOWS:-0}" != "1" ]; then
  "$POSTERN_ROOT/scripts/test-windows.sh" || failed+=("windows (scripts/test-windows.sh)")
fi

elapsed=$((SECONDS - started))
if [ "${#failed[@]}" -gt 0 ]; then
  postern_log "FAILED after ${elapsed}s: ${failed[*]}"
  exit 1
fi
postern_log "all tests passed in ${elapsed}s"
