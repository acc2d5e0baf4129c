#!/usr/bin/env bash
# Builds the Windows installer postern-<version>-x64.msi with Debian's wixl, on Debian, in one
# command: installs the cross toolchain (apt), cross-builds the dependencies once (cached, see
# scripts/windows/build-deps.sh), then postern.exe and the plugins, then packs them.
#
#   scripts/package-msi.sh [--build-dir DIR] [--out DIR] [--version X.Y.Z]
#
# --build-dir: the MinGW build tree (default build-win-pkg: Release, no tests; configured when it
#   does not exist, brought up to date when it does). Its `runtime` install component is staged
#   (postern.exe, plugins\*.dll) next to installer/config/config.default.toml.
# --out: where the .msi goes (default DIR/msi). Its path is printed last.
# --version: the MSI ProductVersion (default: the project version). The CI builds a second MSI with
#   a higher version from the same files to prove major upgrades.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$POSTERN_ROOT"

build_dir=build-win-pkg
out=""
version=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "package-msi.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
out="$(mkdir -p "${out:-$build_dir/msi}" && cd "${out:-$build_dir/msi}" && pwd)"
# shellcheck source=scripts/windows/lib.sh
source "$POSTERN_ROOT/scripts/windows/lib.sh"
postern_install_missing "${POSTERN_WINDOWS_PACKAGES[@]}" >&2
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  deps="$(scripts/windows/build-deps.sh)"
  cares="$(scripts/windows/build-cares.sh)"
  postern_configure "$build_dir" --toolchain "$POSTERN_ROOT/cmake/toolchain-mingw64.cmake" \
    -DPOSTERN_WIN_DEPS="$deps" -DPOSTERN_WIN_CARES="$cares" -DCMAKE_BUILD_TYPE=Release -DPOSTERN_BUILD_TESTS=OFF \
    -DPOSTERN_SANITIZE=OFF >&2
fi
postern_build "$build_dir" postern plugins/all >&2
[ -f "$build_dir/bin/postern.exe" ] || { echo "package-msi.sh: no $build_dir/bin/postern.exe after the build" >&2; exit 1; }
if [ -z "$version" ]; then
  version="$(sed -n 's/^project(postern VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)"
fi
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "package-msi.sh: bad version '$version'" >&2; exit 1; }

# wixl wants relative Source paths: stage everything under one directory and run from there.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --component runtime --prefix "$work/stage" --strip >&2
[ -f "$work/stage/bin/postern.exe" ] || { echo "package-msi.sh: the runtime component has no bin/postern.exe" >&2; exit 1; }
mkdir -p "$work/stage/bin/plugins" "$work/config"
cp installer/config/config.default.toml "$work/config/"
cp installer/msi/postern.wxs "$work/"
# The example configs (with their inventory and demo certificate) -> Program Files\Postern\examples.
cp -r examples "$work/stage/examples"
(cd "$work" && find stage/bin/plugins -type f -name '*.dll' | sort |
   wixl-heat --var var.PluginsDir --directory-ref PLUGINSDIR --component-group Plugins --win64 \
             -p stage/bin/plugins/ >plugins.wxs)
(cd "$work" && find stage/examples -type f | sort |
   wixl-heat --var var.ExamplesDir --directory-ref EXAMPLESDIR --component-group Examples --win64 \
             -p stage/examples/ >examples.wxs)
msi="$out/postern-$version-x64.msi"
(cd "$work" && wixl -a x64 -D Version="$version" -D StageDir=stage -D ConfigDir=config \
   -D PluginsDir=stage/bin/plugins -D ExamplesDir=stage/examples -D Win64=yes -o "$msi" \
   postern.wxs plugins.wxs examples.wxs) >&2
echo "$msi"
