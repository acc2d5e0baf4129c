#!/usr/bin/env bash
# Installs what is missing, builds postern and its plugins, and runs it in the foreground:
#   scripts/demo.sh               the built-in demo config (a TCP listener and two demo backends)
#   scripts/demo.sh -c FILE       your own config
# Stop it with Ctrl-C.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$POSTERN_ROOT"

build_dir="${POSTERN_BUILD_DIR:-build}"

postern_install_missing "${POSTERN_PACKAGES[@]}"
postern_configure "$build_dir" >&2
# Only what running needs: the binary and the plugins folder (tests build with scripts/test.sh).
postern_build "$build_dir" postern plugins/all >&2

exec "$build_dir/bin/postern" run "$@"
