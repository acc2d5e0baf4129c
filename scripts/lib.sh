# shellcheck shell=bash
# Shared by scripts/test.sh and scripts/demo.sh: install what is missing, configure and build.
# Source it; it defines functions and variables only.

POSTERN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian 12 packages the build and the tests need (libboost-dev is Boost 1.74 there; libc-ares-dev
# is c-ares 1.18, the resolver of the dns discovery plugin).
# shellcheck disable=SC2034  # used by the scripts that source this file
POSTERN_PACKAGES=(
  build-essential g++ cmake ninja-build ccache
  libpoco-dev libboost-dev libtomlplusplus-dev libssl-dev libgtest-dev libbenchmark-dev
  libc-ares-dev python3 openssl
)

postern_log() { printf '==> %s\n' "$*" >&2; }

# postern_install_missing PKG...: apt-get installs only the packages dpkg does not report as
# installed; `apt-get update` runs once, and only when something is missing.
postern_install_missing() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    postern_log "no dpkg here: not installing anything; make sure these are present: $*"
    return 0
  fi
  local missing=() pkg
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    return 0
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      postern_log "missing packages (${missing[*]}) and not root: install them and run again"
      return 1
    fi
  fi
  postern_log "installing missing packages: ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

postern_jobs() { echo "${POSTERN_JOBS:-$(nproc 2>/dev/null || echo 2)}"; }

# postern_configure DIR [CMAKE_ARGS...]: a Ninja build tree in DIR (RelWithDebInfo unless
# CMAKE_ARGS set CMAKE_BUILD_TYPE: the last -D wins), with ccache when it is there.
postern_configure() {
  local dir="$1"
  shift
  # A tree configured with another generator cannot be reused: start it afresh.
  if [ -f "$dir/CMakeCache.txt" ] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$dir/CMakeCache.txt"; then
    postern_log "$dir was configured with another generator: removing it"
    rm -rf "$dir"
  fi
  local launcher=()
  if command -v ccache >/dev/null 2>&1; then
    launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  cmake -S "$POSTERN_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "${launcher[@]}" "$@"
}

# postern_build DIR [TARGET...]: builds everything, or only the named targets.
postern_build() {
  local dir="$1"
  shift
  local targets=()
  if [ "$#" -gt 0 ]; then
    targets=(--target "$@")
  fi
  cmake --build "$dir" -j "$(postern_jobs)" "${targets[@]}"
}
