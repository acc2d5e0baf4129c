#!/usr/bin/env bash
# Cross-builds Postern for 64-bit Windows with MinGW-w64: postern.exe (static), the plugin DLLs,
# the unit tests (.exe, run under wine by ctest) and the test plugins.
#
#   scripts/windows/build.sh [BUILD_DIR]      (default build-win)
#
# The dependencies (OpenSSL, Poco, GoogleTest) come from scripts/windows/build-deps.sh: built once,
# then cached outside the tree.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=scripts/windows/lib.sh
source "$POSTERN_ROOT/scripts/windows/lib.sh"
cd "$POSTERN_ROOT"

postern_install_missing "${POSTERN_WINDOWS_PACKAGES[@]}"
postern_windows_build "${1:-build-win}"
