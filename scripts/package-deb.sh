#!/usr/bin/env bash
# Builds the two Debian packages from a staged `cmake --install`, with dpkg-deb:
#   postern_<version>_<arch>.deb   /usr/bin/postern, /usr/lib/postern/plugins/*.so,
#                                  /etc/postern/postern.toml (conffile), the systemd unit,
#                                  man pages postern(1) and postern.toml(5) (scripts/md2man.py from
#                                  docs/), examples/ in /usr/share/doc/postern/examples,
#                                  /etc/logrotate.d/postern (conffile), bash completion,
#                                  maintainer scripts creating the "postern" system user
#   postern-dev_<version>_all.deb  the plugin SDK headers and the CMake package (find_package(Postern))
#
#   scripts/package-deb.sh [--build-dir DIR] [--out DIR]
#
# --build-dir: a build tree to package (default build-pkg: configured Release without tests when it
#   does not exist yet). CI passes its tested tree, so the packages hold the binaries it tested;
#   `--strip` at install time drops their debug info either way.
# --out: where the .deb files go (default DIR/deb). The paths of the two files are printed last.
# Environment: POSTERN_DEB_REVISION (default 1), POSTERN_DEB_MAINTAINER.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$POSTERN_ROOT"

build_dir=build-pkg
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "package-deb.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
out="${out:-$build_dir/deb}"

postern_install_missing "${POSTERN_PACKAGES[@]}" dpkg-dev
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  postern_configure "$build_dir" -DCMAKE_BUILD_TYPE=Release -DPOSTERN_BUILD_TESTS=OFF -DPOSTERN_SANITIZE=OFF >&2
fi
postern_build "$build_dir" postern plugins/all >&2

version="$("$build_dir/bin/postern" version | awk '{print $2}')"
[ -n "$version" ] || { echo "package-deb.sh: cannot read the version from $build_dir/bin/postern" >&2; exit 1; }
debver="$version-${POSTERN_DEB_REVISION:-1}"
arch="$(dpkg --print-architecture)"
maintainer="${POSTERN_DEB_MAINTAINER:-Postern developers <postern@localhost>}"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$out"

# changelog.Debian.gz, as policy wants one per package.
changelog() {
  local pkg="$1" dir="$2" rev
  rev="$(git -C "$POSTERN_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
  mkdir -p "$dir"
  printf '%s (%s) unstable; urgency=medium\n\n  * Built from the Postern source tree at %s.\n\n -- %s  %s\n' \
    "$pkg" "$debver" "$rev" "$maintainer" "$(date -R)" | gzip -9n >"$dir/changelog.Debian.gz"
}

# finish PKGDIR CONTROL_TEMPLATE DEPENDS: DEBIAN/control and md5sums, then dpkg-deb.
finish() {
  local root="$1" template="$2" depends="$3" size
  find "$root" -type d -exec chmod 0755 {} +
  size="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
  sed -e "s|@VERSION@|$debver|" -e "s|@ARCH@|$arch|" -e "s|@SIZE@|$size|" \
      -e "s|@DEPENDS@|$depends|" -e "s|@MAINTAINER@|$maintainer|" "$template" >"$root/DEBIAN/control"
  (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) \
    >"$root/DEBIAN/md5sums"
  chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
}

# --- postern ---------------------------------------------------------------------------------
p="$stage/postern"
cmake --install "$build_dir" --component runtime --prefix "$p/usr" --strip >&2
install -D -m0644 installer/config/postern.toml "$p/etc/postern/postern.toml"
install -D -m0644 installer/debian/postern.service "$p/lib/systemd/system/postern.service"
install -D -m0644 installer/debian/copyright "$p/usr/share/doc/postern/copyright"
install -m0644 README.md docs/*.md "$p/usr/share/doc/postern/"
changelog postern "$p/usr/share/doc/postern"
# The operator's kit: examples, man pages built from the docs, logrotate, bash completion.
install -d "$p/usr/share/doc/postern/examples/inventory" "$p/usr/share/doc/postern/examples/certs"
install -m0644 examples/*.toml "$p/usr/share/doc/postern/examples/"
install -m0644 examples/inventory/*.toml "$p/usr/share/doc/postern/examples/inventory/"
install -m0644 examples/certs/* "$p/usr/share/doc/postern/examples/certs/"
man_date="$(git -C "$POSTERN_ROOT" log -1 --format=%cs 2>/dev/null || date +%F)"
install -d "$p/usr/share/man/man1" "$p/usr/share/man/man5"
python3 scripts/md2man.py --name postern --section 1 --date "$man_date" \
  --summary "reverse proxy and load balancer for TCP, TLS, HTTP and WebSocket" \
  docs/command-line.md | gzip -9n >"$p/usr/share/man/man1/postern.1.gz"
python3 scripts/md2man.py --name postern.toml --section 5 --date "$man_date" \
  --summary "Postern configuration file" docs/configuration.md | gzip -9n >"$p/usr/share/man/man5/postern.toml.5.gz"
install -D -m0644 installer/debian/postern.logrotate "$p/etc/logrotate.d/postern"
install -D -m0644 installer/debian/postern.bash-completion "$p/usr/share/bash-completion/completions/postern"
mkdir -p "$p/DEBIAN"
install -m0755 installer/debian/postinst installer/debian/prerm installer/debian/postrm "$p/DEBIAN/"
printf '%s\n' /etc/postern/postern.toml /etc/logrotate.d/postern >"$p/DEBIAN/conffiles"
chmod 0644 "$p/DEBIAN/conffiles"

# Library dependencies of the binary and the plugins, as dpkg-shlibdeps finds them (it wants to
# run inside a source package: give it a minimal debian/control).
shl="$stage/shlibdeps"
mkdir -p "$shl/debian"
printf 'Source: postern\n\nPackage: postern\nArchitecture: any\n' >"$shl/debian/control"
mapfile -t elves < <(find "$p/usr" -type f \( -name '*.so' -o -perm -u+x \) -exec sh -c 'head -c4 "$1" | grep -q ELF' _ {} \; -print)
depends="$(cd "$shl" && dpkg-shlibdeps -O "${elves[@]/#/-e}" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')"
[ -n "$depends" ] || { echo "package-deb.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
finish "$p" installer/debian/control.postern "$depends"
deb_runtime="$out/postern_${debver}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$p" "$deb_runtime" >&2

# --- postern-dev -----------------------------------------------------------------------------
d="$stage/postern-dev"
cmake --install "$build_dir" --component sdk --prefix "$d/usr" >&2
install -D -m0644 installer/debian/copyright "$d/usr/share/doc/postern-dev/copyright"
install -m0644 docs/plugins.md "$d/usr/share/doc/postern-dev/"
changelog postern-dev "$d/usr/share/doc/postern-dev"
mkdir -p "$d/DEBIAN"
finish "$d" installer/debian/control.postern-dev ""
deb_dev="$out/postern-dev_${debver}_all.deb"
dpkg-deb --root-owner-group -Zxz --build "$d" "$deb_dev" >&2

echo "$deb_runtime"
echo "$deb_dev"
