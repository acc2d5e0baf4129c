#!/usr/bin/env bash
# The Windows half of CI, on Debian: cross-build with MinGW-w64, run the unit tests under wine,
# build the MSI with wixl and test it under wine (install, service RUNNING, TCP relay, major
# upgrade, uninstall). scripts/test.sh calls it; it also runs on its own:
#
#   scripts/test-windows.sh
#
# Environment: POSTERN_WIN_BUILD_DIR (default build-win), POSTERN_JOBS, POSTERN_DEPS_CACHE (see
# scripts/windows/build-deps.sh). Prints the time of each stage; exits non-zero if any failed.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=scripts/windows/lib.sh
source "$POSTERN_ROOT/scripts/windows/lib.sh"
cd "$POSTERN_ROOT"

build_dir="${POSTERN_WIN_BUILD_DIR:-build-win}"
started=$SECONDS
failed=()
timings=()
stage() { timings+=("$1: $(($SECONDS - $2))s"); }

t=$SECONDS
postern_install_missing "${POSTERN_WINDOWS_PACKAGES[@]}"
stage "packages" $t

t=$SECONDS
deps="$(scripts/windows/build-deps.sh)"
stage "dependencies (OpenSSL, Poco, GoogleTest: $deps)" $t
t=$SECONDS
cares="$(scripts/windows/build-cares.sh)"
stage "c-ares ($cares)" $t

t=$SECONDS
postern_log "windows: cross-build in $build_dir"
postern_configure "$build_dir" --toolchain "$POSTERN_ROOT/cmake/toolchain-mingw64.cmake" \
  -DPOSTERN_WIN_DEPS="$deps" -DPOSTERN_WIN_CARES="$cares" -DPOSTERN_SANITIZE=OFF
postern_build "$build_dir"
stage "cross-build" $t

t=$SECONDS
postern_log "windows: unit tests under wine"
postern_wine_start "$POSTERN_ROOT/$build_dir/wineprefix"
trap postern_wine_stop EXIT
if ! ctest --test-dir "$build_dir" --output-on-failure --no-tests=error -j "$(postern_jobs)" --timeout 300; then
  # Seen once in ~10 runs: a test "failed" in 0.00 s with no output at all (the wine process did
  # not start; a failing gtest prints its output). Failed tests get one more run, in the open: a
  # test that fails again fails the stage.
  postern_log "windows: re-running the failed unit tests once (listed above)"
  if ctest --test-dir "$build_dir" --rerun-failed --output-on-failure --timeout 300; then
    postern_log "windows: WARNING: unit tests failed under wine, then passed when re-run (see above)"
  else
    failed+=("unit tests under wine")
  fi
fi
postern_wine_stop
trap - EXIT
stage "unit tests under wine" $t

t=$SECONDS
postern_log "windows: MSI"
version="$(sed -n 's/^project(postern VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)"
# The upgrade test needs a higher version of the same product: same files, patch + 1.
upgrade_version="$(awk -F. '{ printf "%d.%d.%d", $1, $2, $3 + 1 }' <<<"$version")"
if msi="$(scripts/package-msi.sh --build-dir "$build_dir")" &&
   msi_up="$(scripts/package-msi.sh --build-dir "$build_dir" --version "$upgrade_version" --out "$build_dir/msi-upgrade")"; then
  stage "MSI build" $t
  t=$SECONDS
  tests/packaging/msi_test.sh "$msi" "$msi_up" || failed+=("MSI under wine")
  stage "MSI test under wine" $t
else
  failed+=("MSI build")
fi

postern_log "windows: $(IFS=';'; echo "${timings[*]}" | sed 's/;/, /g')"
if [ "${#failed[@]}" -gt 0 ]; then
  postern_log "windows: FAILED after $((SECONDS - started))s: ${failed[*]}"
  exit 1
fi
postern_log "windows: all passed in $((SECONDS - started))s"
