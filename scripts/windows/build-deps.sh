#!/usr/bin/env bash
# Cross-builds Postern's Windows dependencies with MinGW-w64 into a cached prefix and prints that
# prefix on stdout (everything else goes to stderr):
#
#   deps="$(scripts/windows/build-deps.sh)"
#
# What is built, all static, from Debian 12's own source packages (there are no MinGW packages of
# them in Debian): OpenSSL 3.0 (openssl 3.0.17-1~deb12u2), Poco 1.11 Foundation/Util/Net/Crypto/
# NetSSL (poco 1.11.0-3+deb12u1, with three fixes for MinGW), GoogleTest 1.12 (Debian's
# `googletest` sources in /usr/src). Boost (header-only use) and toml++ are the host's headers,
# exposed through symlinks in <prefix>/include, never through /usr/include itself.
#
# The prefix is <cache>/<key>, where <key> hashes this script, the toolchain file and the compiler
# version: change the recipe and it is rebuilt; otherwise a finished prefix is reused. <cache> is
# $POSTERN_DEPS_CACHE, else /var/cache/postern-deps when writable, else ~/.cache/postern-deps.
# A build happens in <cache>/<key>.tmp and is renamed only when complete, under a lock.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
toolchain="$root/cmake/toolchain-mingw64.cmake"
log() { printf '==> [win-deps] %s\n' "$*" >&2; }

OPENSSL_VERSION="3.0.17-1~deb12u2"
POCO_VERSION="1.11.0-3+deb12u1"
CXX=x86_64-w64-mingw32-g++-posix

for tool in "$CXX" x86_64-w64-mingw32-windmc cmake ninja dpkg-source apt-get sha256sum flock; do
  command -v "$tool" >/dev/null || { log "missing tool: $tool"; exit 1; }
done

key="$( { cat "${BASH_SOURCE[0]}" "$toolchain"; "$CXX" --version | head -1; } | sha256sum | cut -c1-16)"
if [ -n "${POSTERN_DEPS_CACHE:-}" ]; then
  cache="$POSTERN_DEPS_CACHE"
elif mkdir -p /var/cache/postern-deps 2>/dev/null && [ -w /var/cache/postern-deps ]; then
  cache=/var/cache/postern-deps
else
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/postern-deps"
fi
mkdir -p "$cache"
prefix="$cache/$key"

exec 9>"$cache/.lock"
flock 9
if [ -f "$prefix/.complete" ]; then
  log "cached: $prefix"
  echo "$prefix"
  exit 0
fi

started=$SECONDS
tmp="$prefix.tmp"
rm -rf "$tmp"
mkdir -p "$tmp/src" "$tmp/prefix"
P="$tmp/prefix"     # installed into; moved to $prefix at the end (paths inside are fixed below)
W="$tmp/src"
jobs="${POSTERN_JOBS:-$(nproc)}"
log "building into $prefix (key $key, $jobs jobs)"

# --- sources: Debian's deb-src of the machine's own archive, without touching /etc/apt ---------
mkdir -p "$W/apt/lists/partial" "$W/apt/sources.list.d"
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
    > "$W/apt/sources.list.d/debian-src.sources"
else
  sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > "$W/apt/sources.list.d/debian-src.list"
fi
APT=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$W/apt/sources.list.d"
     -o "Dir::State::Lists=$W/apt/lists" -o Dir::Cache::archives="$W/apt/archives")
apt-get "${APT[@]}" -q update >&2
(cd "$W" && apt-get "${APT[@]}" -q source "openssl=$OPENSSL_VERSION" "poco=$POCO_VERSION") >&2 2>"$W/apt-source.err" \
  || { cat "$W/apt-source.err" >&2; exit 1; }

# --- OpenSSL 3 ------------------------------------------------------------------------------
t=$SECONDS
cd "$W"/openssl-3.*/
./Configure mingw64 --cross-compile-prefix=x86_64-w64-mingw32- --prefix="$P" --libdir=lib \
  no-shared no-tests no-module >&2
make -j"$jobs" build_libs >"$W/openssl-build.log" 2>&1 || { tail -40 "$W/openssl-build.log" >&2; exit 1; }
make install_dev >"$W/openssl-install.log" 2>&1 || { tail -40 "$W/openssl-install.log" >&2; exit 1; }
log "OpenSSL: $((SECONDS - t))s"

# --- Poco 1.11 --------------------------------------------------------------------------------
t=$SECONDS
cd "$W"/poco-1.11.0/
# Fix 1 (below): Poco's CMake looks for mc.exe; windmc takes the same -h/-r flags.
# Fix 2: mingw's headers are lower-case; Poco includes <Winsock2.h>/<Iphlpapi.h>. Fixed in the
# sources, so the installed headers work for consumers too.
grep -rl --include='*.h' --include='*.cpp' -e '<Winsock2.h>' -e '<WinSock2.h>' -e '<Iphlpapi.h>' \
  -e '<IPHlpApi.h>' -e '<Ws2tcpip.h>' -e '<WS2tcpip.h>' -e '<Windows.h>' Foundation Net Util Crypto NetSSL_OpenSSL |
  xargs -r sed -i -e 's/<Winsock2\.h>/<winsock2.h>/; s/<WinSock2\.h>/<winsock2.h>/; s/<Iphlpapi\.h>/<iphlpapi.h>/' \
                  -e 's/<IPHlpApi\.h>/<iphlpapi.h>/; s/<Ws2tcpip\.h>/<ws2tcpip.h>/; s/<WS2tcpip\.h>/<ws2tcpip.h>/' \
                  -e 's/<Windows\.h>/<windows.h>/'
# Fix 3: TIMESTAMP_REQUEST is a macro from <wincrypt.h> (iphlpapi.h -> mprapi.h) that clashes with
# an enum value.
sed -i 's|^#include <cstddef>$|#include <cstddef>\n#ifdef TIMESTAMP_REQUEST\n#undef TIMESTAMP_REQUEST\n#endif|' \
  Net/include/Poco/Net/ICMPv4PacketImpl.h
grep -q '#undef TIMESTAMP_REQUEST' Net/include/Poco/Net/ICMPv4PacketImpl.h || { log "Poco fix 3 did not apply"; exit 1; }
# Fix 4: Util's package file always requires PocoXML and PocoJSON, which are not built here (Postern
# needs neither: Util is built without XML/JSON configuration support).
sed -i '/find_dependency(PocoXML)/d; /find_dependency(PocoJSON)/d' Util/cmake/PocoUtilConfig.cmake
# POSTERN_WIN_DEPS=$P puts the prefix on the toolchain's find root, so FindOpenSSL looks there.
cmake -S . -B build-mingw -G Ninja --toolchain "$toolchain" -DPOSTERN_WIN_DEPS="$P" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$P" -DBUILD_SHARED_LIBS=OFF \
  -DCMAKE_MC_COMPILER=/usr/bin/x86_64-w64-mingw32-windmc \
  -DOPENSSL_ROOT_DIR="$P" -DOPENSSL_USE_STATIC_LIBS=TRUE -DPOCO_UNBUNDLED=OFF -DENABLE_TESTS=OFF \
  -DENABLE_FOUNDATION=ON -DENABLE_NET=ON -DENABLE_UTIL=ON -DENABLE_CRYPTO=ON -DENABLE_NETSSL=ON \
  -DENABLE_XML=OFF -DENABLE_JSON=OFF -DENABLE_ENCODINGS=OFF -DENABLE_MONGODB=OFF -DENABLE_REDIS=OFF \
  -DENABLE_DATA=OFF -DENABLE_DATA_SQLITE=OFF -DENABLE_DATA_MYSQL=OFF -DENABLE_DATA_POSTGRESQL=OFF \
  -DENABLE_DATA_ODBC=OFF -DENABLE_ZIP=OFF -DENABLE_PAGECOMPILER=OFF -DENABLE_PAGECOMPILER_FILE2PAGE=OFF \
  -DENABLE_ACTIVERECORD=OFF -DENABLE_ACTIVERECORD_COMPILER=OFF -DENABLE_JWT=OFF \
  -DENABLE_APACHECONNECTOR=OFF -DENABLE_NETSSL_WIN=OFF -DENABLE_PDF=OFF -DENABLE_SEVENZIP=OFF \
  -DENABLE_CPPPARSER=OFF -DENABLE_POCODOC=OFF >"$W/poco-configure.log" 2>&1 \
  || { tail -40 "$W/poco-configure.log" >&2; exit 1; }
cmake --build build-mingw -j "$jobs" >"$W/poco-build.log" 2>&1 || { grep -m20 -B2 -A8 'error' "$W/poco-build.log" >&2; exit 1; }
cmake --install build-mingw >/dev/null
log "Poco: $((SECONDS - t))s"

# --- GoogleTest (Debian's sources) -------------------------------------------------------------
t=$SECONDS
cmake -S /usr/src/googletest -B "$W/gtest-build" -G Ninja --toolchain "$toolchain" -DPOSTERN_WIN_DEPS="$P" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$P" -DBUILD_SHARED_LIBS=OFF \
  -Dgtest_force_shared_crt=ON >"$W/gtest.log" 2>&1 || { tail -30 "$W/gtest.log" >&2; exit 1; }
cmake --build "$W/gtest-build" -j "$jobs" >>"$W/gtest.log" 2>&1 || { tail -30 "$W/gtest.log" >&2; exit 1; }
cmake --install "$W/gtest-build" >/dev/null
log "GoogleTest: $((SECONDS - t))s"

# --- host header-only libraries ---------------------------------------------------------------
ln -s /usr/include/boost "$P/include/boost"
ln -s /usr/include/toml++ "$P/include/toml++"
# toml++ as Postern uses it: headers only here (config/toml_impl.cpp compiles the implementation).
# Debian's own package config would force its shared library instead.
mkdir -p "$P/lib/cmake/tomlplusplus"
toml_version="$(sed -n 's/^#define TOML_LIB_MAJOR \([0-9]*\)/\1/p; s/^#define TOML_LIB_MINOR \([0-9]*\)/\1/p; s/^#define TOML_LIB_PATCH \([0-9]*\)/\1/p' \
  /usr/include/toml++/impl/version.h 2>/dev/null | paste -sd.)"
[ -n "$toml_version" ] || toml_version=3.3.0
cat >"$P/lib/cmake/tomlplusplus/tomlplusplusConfig.cmake" <<'EOF'
# Written by Postern's scripts/windows/build-deps.sh: toml++ headers from the host, header-only.
if(NOT TARGET tomlplusplus::tomlplusplus)
  add_library(tomlplusplus::tomlplusplus INTERFACE IMPORTED)
  set_target_properties(tomlplusplus::tomlplusplus PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${CMAKE_CURRENT_LIST_DIR}/../../../include")
endif()
EOF
cat >"$P/lib/cmake/tomlplusplus/tomlplusplusConfigVersion.cmake" <<EOF
set(PACKAGE_VERSION "$toml_version")
if(PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
  if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
endif()
EOF

# The prefix moves from $tmp/prefix to $prefix: rewrite absolute paths in installed CMake/pkg-config
# files (OpenSSL's and GTest's refer to their install prefix).
grep -rlIF "$P" "$P" 2>/dev/null | while read -r f; do sed -i "s|$P|$prefix|g" "$f"; done
rm -rf "$prefix"
mv "$P" "$prefix"
printf 'openssl %s\npoco %s\ngoogletest %s\nkey %s\nbuilt_seconds %s\n' "$OPENSSL_VERSION" "$POCO_VERSION" \
  "$(dpkg-query -W -f='${Version}' googletest 2>/dev/null || echo unknown)" "$key" "$((SECONDS - started))" \
  >"$prefix/.complete"
rm -rf "$tmp"
log "done in $((SECONDS - started))s: $prefix"
echo "$prefix"
