#!/usr/bin/env bash
# Cross-builds c-ares (the asynchronous DNS resolver of the `dns` discovery plugin) with MinGW-w64
# into a cached prefix of its own and prints that prefix on stdout (everything else to stderr):
#
#   cares="$(scripts/windows/build-cares.sh)"
#
# A recipe and a cache entry separate from scripts/windows/build-deps.sh (OpenSSL, Poco,
# GoogleTest: ~10 minutes on 2 cores), so adding or changing c-ares never rebuilds those. Built
# static (CARES_STATICLIB for consumers) from Debian 12's own source package, pinned below by
# version and by the SHA-256 of the upstream tarball (apt-get also checks every file against the
# archive's signed index); Debian's security patches (debian/patches) are applied by dpkg-source.
#
# The prefix is <cache>/cares-<key>, where <key> hashes this script, the toolchain file and the
# compiler version. <cache> is chosen as in build-deps.sh ($POSTERN_DEPS_CACHE, else
# /var/cache/postern-deps when writable, else ~/.cache/postern-deps). A build happens in
# <prefix>.tmp and is renamed only when complete, under the cache's lock.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
toolchain="$root/cmake/toolchain-mingw64.cmake"
log() { printf '==> [win-cares] %s\n' "$*" >&2; }

CARES_VERSION="1.18.1-3"
CARES_ORIG_SHA256="1a7d52a8a84a9fbffb1be9133c0f6e17217d91ea5a6fa61f6b4729cda78ebbcf"
CC=x86_64-w64-mingw32-gcc-posix

for tool in "$CC" cmake ninja dpkg-source apt-get sha256sum flock; do
  command -v "$tool" >/dev/null || { log "missing tool: $tool"; exit 1; }
done

key="$( { cat "${BASH_SOURCE[0]}" "$toolchain"; "$CC" --version | head -1; } | sha256sum | cut -c1-16)"
if [ -n "${POSTERN_DEPS_CACHE:-}" ]; then
  cache="$POSTERN_DEPS_CACHE"
elif mkdir -p /var/cache/postern-deps 2>/dev/null && [ -w /var/cache/postern-deps ]; then
  cache=/var/cache/postern-deps
else
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/postern-deps"
fi
mkdir -p "$cache"
prefix="$cache/cares-$key"

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
P="$tmp/prefix"
W="$tmp/src"
jobs="${POSTERN_JOBS:-$(nproc)}"
log "building c-ares $CARES_VERSION into $prefix (key $key)"

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
(cd "$W" && apt-get "${APT[@]}" -q source "c-ares=$CARES_VERSION") >&2 2>"$W/apt-source.err" \
  || { cat "$W/apt-source.err" >&2; exit 1; }
got="$(sha256sum "$W"/c-ares_*.orig.tar.gz | cut -d' ' -f1)"
[ "$got" = "$CARES_ORIG_SHA256" ] || { log "c-ares tarball hash $got, expected $CARES_ORIG_SHA256"; exit 1; }

# --- c-ares, static ------------------------------------------------------------------------------
cd "$W"/c-ares-1.18.1/
# Fix: Debian's patch for CVE-2023-31130 uses INADDRSZ, which only glibc's <arpa/nameser_compat.h>
# defines; c-ares' own name for it is NS_INADDRSZ (what upstream 1.19.1 uses).
sed -i 's/\bINADDRSZ\b/NS_INADDRSZ/g' src/lib/inet_net_pton.c
grep -q '\bINADDRSZ\b' src/lib/inet_net_pton.c && { log "the INADDRSZ fix did not apply"; exit 1; }
cmake -S . -B build-mingw -G Ninja --toolchain "$toolchain" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX="$P" -DCARES_STATIC=ON -DCARES_SHARED=OFF -DCARES_STATIC_PIC=ON \
  -DCARES_BUILD_TOOLS=OFF -DCARES_BUILD_TESTS=OFF -DCARES_INSTALL=ON \
  >"$W/cares-configure.log" 2>&1 || { tail -40 "$W/cares-configure.log" >&2; exit 1; }
cmake --build build-mingw -j "$jobs" >"$W/cares-build.log" 2>&1 \
  || { grep -m20 -B2 -A8 'error' "$W/cares-build.log" >&2; exit 1; }
cmake --install build-mingw >/dev/null
[ -f "$P/lib/libcares.a" ] || { log "no lib/libcares.a after the install"; exit 1; }

grep -rlIF "$P" "$P" 2>/dev/null | while read -r f; do sed -i "s|$P|$prefix|g" "$f"; done
rm -rf "$prefix"
mv "$P" "$prefix"
printf 'c-ares %s\norig_sha256 %s\nkey %s\nbuilt_seconds %s\n' "$CARES_VERSION" "$CARES_ORIG_SHA256" \
  "$key" "$((SECONDS - started))" >"$prefix/.complete"
rm -rf "$tmp"
log "done in $((SECONDS - started))s: $prefix"
echo "$prefix"
