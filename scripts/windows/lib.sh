# shellcheck shell=bash
# Shared by the Windows scripts (scripts/windows/*.sh, scripts/test-windows.sh): the packages, the
# cross-build, and a headless wine session. Source it after scripts/lib.sh.

# Debian 12 packages for cross-building, running and packaging the Windows build.
# shellcheck disable=SC2034
POSTERN_WINDOWS_PACKAGES=(
  g++-mingw-w64-x86-64-posix binutils-mingw-w64-x86-64 wine64 wine wixl msitools dpkg-dev
  cmake ninja-build ccache googletest libboost-dev libtomlplusplus-dev python3
)

# postern_windows_build DIR: deps and c-ares (cached), then configure + build the MinGW tree in DIR.
postern_windows_build() {
  local dir="$1" deps cares
  deps="$("$POSTERN_ROOT/scripts/windows/build-deps.sh")"
  cares="$("$POSTERN_ROOT/scripts/windows/build-cares.sh")"
  postern_configure "$dir" --toolchain "$POSTERN_ROOT/cmake/toolchain-mingw64.cmake" \
    -DPOSTERN_WIN_DEPS="$deps" -DPOSTERN_WIN_CARES="$cares" -DPOSTERN_SANITIZE=OFF
  postern_build "$dir"
}

# postern_wine_start PREFIX: a fresh, headless wine prefix with a persistent wineserver (wine stops
# services ~3 s after its last ordinary process otherwise) and its background processes detached
# from our stdio (they would hold ctest's pipes open). Exports WINEPREFIX & co for the callers.
postern_wine_start() {
  export WINEPREFIX="$1" WINEDEBUG="${WINEDEBUG:--all}" WINEDLLOVERRIDES="mscoree,mshtml=" WINEARCH=win64
  unset DISPLAY
  rm -rf "$WINEPREFIX"
  mkdir -p "$WINEPREFIX"
  wineserver -p
  timeout 120 wine wineboot </dev/null >"$WINEPREFIX.boot.log" 2>&1
}

# postern_wine_stop: ends every process of the session (the wineserver of $WINEPREFIX and its
# children), waiting for it.
postern_wine_stop() {
  [ -n "${WINEPREFIX:-}" ] || return 0
  if [ -d "$WINEPREFIX" ]; then
    timeout 60 wineserver -k 2>/dev/null || true
    timeout 60 wineserver -w 2>/dev/null || true
  fi
  # Processes of this prefix that outlived their wineserver (it was killed) never exit by
  # themselves: end them by PID, picked by their exact WINEPREFIX.
  local exe pid
  for exe in /proc/[0-9]*/exe; do
    pid="${exe#/proc/}"
    pid="${pid%/exe}"
    case "$(readlink "$exe" 2>/dev/null)" in /usr/lib/wine/*) ;; *) continue ;; esac
    if { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qxF "WINEPREFIX=$WINEPREFIX"; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
}
