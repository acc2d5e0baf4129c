#!/usr/bin/env bash
# Checks the two .deb files scripts/package-deb.sh built:
#   1. metadata: names, dependencies, conffile, maintainer scripts (sh -n)
#   2. `dpkg -x` into a scratch root: the files, the systemd unit (`systemd-analyze verify` and an
#      offline `systemd-analyze security` exposure threshold, against that root)
#   3. the extracted binary validates the extracted default config (`postern check`) with the
#      extracted plugins, and lists them (`postern plugins`)
#   3b. the operator's kit: both man pages render (groff -ww, mandoc -T lint, man -l), every
#      example passes `postern check` with the extracted binary, the logrotate file passes a
#      forced `logrotate -d`, the bash completion sources and completes commands and options
#   4. a plugin built out of tree against the extracted postern-dev (find_package(Postern)) is
#      loaded by the extracted binary
#   5. when root and no postern package is installed: a real `dpkg -i` (system user, config
#      ownership, unit enabled, a locally edited conffile kept on reinstall), `systemd-analyze
#      verify` of the installed unit, the unit's ExecStart and ExecReload (5b: systemctl where
#      systemd runs, else the exact command lines as user postern): the reload fails on a bad
#      config and succeeds on a good one, framed by RELOADING=1/READY=1; then `dpkg --purge`
#      leaves nothing behind but the user (which the test removes again when it created it).
#      POSTERN_DEB_TEST_INSTALL=0 skips this part.
#
#   tests/packaging/deb_test.sh <postern_*.deb> <postern-dev_*.deb>
set -euo pipefail

deb="$(realpath "$1")"
deb_dev="$(realpath "$2")"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root_dir="$(cd "$here/../.." && pwd)"
work="$(mktemp -d /tmp/postern-deb-test.XXXXXX)"
trap 'rm -rf "$work"' EXIT
fails=0
ok() { printf 'ok   %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*"; fails=$((fails + 1)); }
check() { local what="$1"; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }

# --- 1. metadata ----------------------------------------------------------------------------
field() { dpkg-deb --field "$1" "$2"; }
check "postern: Package field" test "$(field "$deb" Package)" = postern
check "postern-dev: Package field" test "$(field "$deb_dev" Package)" = postern-dev
check "postern-dev is Architecture: all" test "$(field "$deb_dev" Architecture)" = all
check "postern depends on adduser (postinst creates the user)" grep -qw adduser <<<"$(field "$deb" Depends)"
check "postern depends on libc6 (dpkg-shlibdeps ran)" grep -qw libc6 <<<"$(field "$deb" Depends)"
check "postern depends on libc-ares2 (the dns discovery plugin's resolver)" grep -qw libc-ares2 <<<"$(field "$deb" Depends)"
mkdir -p "$work/control"
dpkg-deb --control "$deb" "$work/control"
check "conffiles lists exactly /etc/postern/postern.toml and /etc/logrotate.d/postern" \
  test "$(cat "$work/control/conffiles")" = "$(printf '%s\n' /etc/postern/postern.toml /etc/logrotate.d/postern)"
for s in postinst prerm postrm; do
  check "$s is executable and valid sh" sh -c "test -x '$work/control/$s' && sh -n '$work/control/$s'"
done
check "postinst creates the postern system user" grep -q 'adduser --system --group' "$work/control/postinst"
check "md5sums covers /usr/bin/postern" grep -q ' usr/bin/postern$' "$work/control/md5sums"

# --- 2. files in a scratch root -------------------------------------------------------------
R="$work/root"
dpkg -x "$deb" "$R"
dpkg -x "$deb_dev" "$R"
check "/usr/bin/postern is an executable" test -x "$R/usr/bin/postern"
for p in balancer_round_robin discovery_static discovery_dns probe_tcp; do
  check "plugin postern_$p.so in /usr/lib/postern/plugins" test -f "$R/usr/lib/postern/plugins/postern_$p.so"
done
check "/etc/postern/postern.toml" test -f "$R/etc/postern/postern.toml"
check "/lib/systemd/system/postern.service" test -f "$R/lib/systemd/system/postern.service"
check "/usr/share/doc/postern/copyright" test -f "$R/usr/share/doc/postern/copyright"
check "SDK header postern/plugin/sdk.h" test -f "$R/usr/include/postern/plugin/sdk.h"
check "CMake package PosternConfig.cmake" test -f "$R/usr/lib/cmake/Postern/PosternConfig.cmake"
check "no file outside /etc /lib /usr" test -z "$(cd "$R" && ls -d -- * | grep -vxE 'etc|lib|usr')"
check "the binary carries no build-tree RUNPATH" sh -c "! readelf -d '$R/usr/bin/postern' | grep -q 'R.*PATH'"

unit="$R/lib/systemd/system/postern.service"
for line in 'Type=notify' 'ExecStart=/usr/bin/postern run -c /etc/postern/postern.toml' \
            'ExecReload=/usr/bin/postern reload -c /etc/postern/postern.toml' 'RuntimeDirectory=postern' \
            'User=postern' 'NoNewPrivileges=yes' \
            'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' \
            'CapabilityBoundingSet=CAP_NET_BIND_SERVICE' 'AmbientCapabilities=CAP_NET_BIND_SERVICE' \
            'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX'; do
  check "unit has $line" grep -qxF "$line" "$unit"
done

# systemd-analyze resolves units and executables under --root: give that root the host's
# systemd units (copies: symlinks leaving the root are refused).
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$R/usr/lib/systemd"
  cp -a /lib/systemd/system "$R/usr/lib/systemd/system"
  if out="$(systemd-analyze verify --root="$R" /lib/systemd/system/postern.service 2>&1)" && [ -z "$out" ]; then
    ok "systemd-analyze verify (scratch root)"
  else
    fail "systemd-analyze verify (scratch root): $out"
  fi
  # Exposure 0.0 (locked down) .. 10.0 (unsafe); the unit scores 1.4 today: fail on regressions.
  if out="$(systemd-analyze security --offline=true --threshold=20 --root="$R" /lib/systemd/system/postern.service 2>&1)"; then
    ok "systemd-analyze security: $(tail -1 <<<"$out" | sed 's/^→ //')"
  else
    fail "systemd-analyze security above 2.0: $(tail -1 <<<"$out")"
  fi
  rm -rf "$R/usr/lib/systemd"
else
  fail "systemd-analyze not installed (package systemd): the unit cannot be verified"
fi

# --- 3. the extracted binary on the extracted default config ---------------------------------
if out="$("$R/usr/bin/postern" check -c "$R/etc/postern/postern.toml" 2>&1)" && [ "$out" = "configuration ok" ]; then
  ok "postern check on the installed default config"
else
  fail "postern check on the installed default config: $out"
fi
out="$("$R/usr/bin/postern" plugins 2>&1)" || true
if grep -q "round_robin .*$R/usr/lib/postern/plugins/postern_balancer_round_robin.so" <<<"$out"; then
  ok "postern plugins finds the packaged plugins next to the packaged binary"
else
  fail "postern plugins: $out"
fi
check "postern version" test "$("$R/usr/bin/postern" version)" = "postern $(dpkg-deb --field "$deb" Version | cut -d- -f1)"
# version -v: the same first line, then the build details of the packaged binary.
vv="$("$R/usr/bin/postern" version -v 2>&1)"
check "postern version -v: the version first" test "$(head -n1 <<<"$vv")" = "$("$R/usr/bin/postern" version)"
check "postern version -v names its build type" grep -qE '^build type: (Release|RelWithDebInfo|Debug|MinSizeRel)$' <<<"$vv"
for key in 'compiler: GCC ' 'target: linux ' 'openssl (built with): OpenSSL 3' \
           'openssl (running): OpenSSL 3' 'poco (running): 1.' 'boost: 1.' 'toml++: 3.' 'plugin abi: '; do
  check "postern version -v names '$key'" grep -qF -- "$key" <<<"$vv"
done

# --- 3b. the operator's kit: man pages, examples, logrotate, bash completion -----------------
for page in man1/postern.1 man5/postern.toml.5; do
  f="$R/usr/share/man/$page.gz"
  if [ ! -f "$f" ]; then fail "/usr/share/man/$page.gz is missing"; continue; fi
  if out="$(zcat "$f" | groff -ww -man -z 2>&1)" && [ -z "$out" ]; then
    ok "$page renders with groff -ww -man without a warning"
  else
    fail "$page: groff -ww: $out"
  fi
  if command -v mandoc >/dev/null; then
    if out="$(zcat "$f" | mandoc -T lint -W warning 2>&1)" && [ -z "$out" ]; then
      ok "$page: mandoc -T lint -W warning is clean"
    else
      fail "$page: mandoc -T lint: $out"
    fi
  fi
  check "$page: man -l shows its NAME line" sh -c "MANWIDTH=80 man -l '$f' 2>/dev/null | grep -q '^ *postern.* - '"
done
man1_text="$(MANWIDTH=100 man -l "$R/usr/share/man/man1/postern.1.gz" 2>/dev/null | tr -s " ")"  # justified: squeeze spaces
for c in 'run [-c FILE]' 'check -c FILE' 'reload [-c FILE] [--socket PATH]' 'plugins [-c FILE]' 'version [-v]:'; do
  check "postern(1) documents '$c'" grep -qF -- "$c" <<<"$man1_text"
done
man5_text="$(MANWIDTH=100 man -l "$R/usr/share/man/man5/postern.toml.5.gz" 2>/dev/null)"
for sec in '[GATEWAY]' '[LOG]' '[[LISTENER]]' '[[POOL]]'; do
  check "postern.toml(5) has the section $sec" grep -qxF -- "$sec" <<<"$man5_text"
done

ex="$R/usr/share/doc/postern/examples"
check "every examples/*.toml of the source is installed" \
  test "$(cd "$root_dir/examples" && ls ./*.toml)" = "$(cd "$ex" 2>/dev/null && ls ./*.toml)"
for f in "$ex"/*.toml; do
  if out="$("$R/usr/bin/postern" check -c "$f" 2>&1)" && [ "$out" = "configuration ok" ]; then
    ok "installed binary: postern check examples/$(basename "$f")"
  else
    fail "postern check examples/$(basename "$f"): $out"
  fi
done

lr="$R/etc/logrotate.d/postern"
check "/etc/logrotate.d/postern rotates /var/log/postern/*.log" grep -q '^/var/log/postern/\*\.log {' "$lr"
check "its postrotate sends SIGUSR1 to the service" grep -q 'systemctl kill --kill-who=main --signal=USR1 postern.service' "$lr"
if command -v logrotate >/dev/null; then
  # A forced dry run (-d -f) on a copy that points at a scratch log: it would rotate the file and
  # run the postrotate script. Without a postern user here the copy creates files as root.
  mkdir -p "$work/log"
  echo 'ts=1 msg=x' >"$work/log/access.log"
  sed -e "s|^/var/log/postern/|$work/log/|" "$lr" >"$work/logrotate.conf"
  getent passwd postern >/dev/null || sed -i 's/^\tcreate 0640 postern adm/\tcreate 0640 root adm/' "$work/logrotate.conf"
  if out="$(logrotate -d -f -s "$work/logrotate.state" "$work/logrotate.conf" 2>&1)" &&
     grep -q "rotating log $work/log/access.log" <<<"$out" && grep -q 'running postrotate script' <<<"$out"; then
    ok "logrotate -d accepts it: rotates the access log, then runs postrotate"
  else
    fail "logrotate -d: $out"
  fi
else
  fail "logrotate not installed (package logrotate): the logrotate file cannot be checked"
fi

bc="$R/usr/share/bash-completion/completions/postern"
check "bash completion: sources, registers _postern for postern" \
  bash -c "source '$bc' && complete -p postern | grep -q -- '-F _postern postern'"
complete_words() {  # complete_words WORD... : what TAB offers after the words (the last is partial)
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _postern; echo "${COMPREPLY[*]}"' _ "$bc" "$@"
}
check "bash completion: 'postern rel<TAB>' -> reload" test "$(complete_words postern rel)" = reload
check "bash completion: 'postern <TAB>' -> every command" \
  test "$(complete_words postern '')" = "run check plugins reload status metrics version help --help"
check "bash completion: 'postern reload --s<TAB>' -> --socket" test "$(complete_words postern reload --s)" = --socket
check "bash completion: 'postern sta<TAB>' -> status" test "$(complete_words postern sta)" = status
check "bash completion: 'postern metrics --s<TAB>' -> --socket" test "$(complete_words postern metrics --s)" = --socket
check "bash completion: 'postern version -<TAB>' -> -v --verbose --help" \
  test "$(complete_words postern version -)" = "-v --verbose --help"
mkdir -p "$work/compl/conf d" && touch "$work/compl/my site.toml" "$work/compl/notes.txt"
check "bash completion: 'postern check -c <TAB>' -> .toml files and folders only" \
  test "$(cd "$work/compl" && complete_words postern check -c '' | tr ' ' '\n' | sort | tr '\n' ,)" = "conf,d,my,site.toml,"

# --- 4. an out-of-tree plugin built against the extracted postern-dev -------------------------
oot="$work/oot"
if cmake -S "$root_dir/tests/support/out_of_tree_plugin" -B "$oot" -G Ninja -DCMAKE_BUILD_TYPE=Release \
     -DCMAKE_PREFIX_PATH="$R/usr" -DCMAKE_FIND_USE_CMAKE_SYSTEM_PATH=OFF >"$work/oot.log" 2>&1 &&
   cmake --build "$oot" >>"$work/oot.log" 2>&1; then
  ok "out-of-tree plugin builds against postern-dev"
else
  fail "out-of-tree plugin build: $(tail -20 "$work/oot.log")"
fi
check "find_package(Postern) used the extracted package" \
  grep -qx "Postern_DIR:PATH=$R/usr/lib/cmake/Postern" "$oot/CMakeCache.txt"
cat >"$work/oot.toml" <<EOF
[gateway]
plugin_dirs = ["$oot", "$R/usr/lib/postern/plugins"]
[[listener]]
name = "l"
bind = ["127.0.0.1:0"]
pool = "p"
[[pool]]
name = "p"
  [pool.discovery]
  targets = ["127.0.0.1:1"]
  [pool.probe]
  plugin = "oot_banner"
  expect = "OK"
EOF
if out="$("$R/usr/bin/postern" check -c "$work/oot.toml" 2>&1)" && [ "$out" = "configuration ok" ] &&
   "$R/usr/bin/postern" plugins -c "$work/oot.toml" | grep -q "^probe .*oot_banner .*0.3.1"; then
  ok "the packaged binary loads the out-of-tree plugin"
else
  fail "the packaged binary and the out-of-tree plugin: $out"
fi

# --- 5b. the unit's ExecStart and ExecReload, run as systemd would ----------------------------
# Where systemd runs, `systemctl start` / `systemctl reload`. In a container without it, the
# installed unit's exact ExecStart and ExecReload command lines, as its User=, with the
# RuntimeDirectory= it declares and a $NOTIFY_SOCKET the test reads: a rejected config makes
# ExecReload fail (exit 2, the errors with their positions) while the instance keeps serving; an
# accepted one succeeds; each reload is framed by RELOADING=1 (with MONOTONIC_USEC) and READY=1.
test_config() {  # test_config PORT: one listener on 127.0.0.1:PORT
  printf '[gateway]\nworkers = 1\n[[listener]]\nname = "front"\nbind = ["127.0.0.1:%s"]\npool = "p"\n[[pool]]\nname = "p"\n  [pool.discovery]\n  targets = ["127.0.0.1:9"]\n' "$1"
}
reload_test() {
  local unit=/lib/systemd/system/postern.service exec_start exec_reload out rc pid="" notify_pid="" i port
  exec_start="$(sed -n 's/^ExecStart=//p' "$unit")"
  exec_reload="$(sed -n 's/^ExecReload=//p' "$unit")"
  cp /etc/postern/postern.toml "$work/installed.toml"
  port="$(python3 "$here/tcp_tools.py" free-ports 1)"
  test_config "$port" >/etc/postern/postern.toml
  local systemd_runs=0
  [ -d /run/systemd/system ] && [ "$(systemctl is-system-running 2>/dev/null || true)" != offline ] && systemd_runs=1
  if [ "$systemd_runs" = 1 ]; then
    check "systemctl start postern" systemctl start postern
    # systemctl prints only that the job failed: ExecReload's output is in the journal.
    reload_cmd() {
      local rc=0
      systemctl reload postern || rc=$?
      journalctl -u postern -n 30 --no-pager -o cat 2>/dev/null || true
      return "$rc"
    }
  else
    echo "     (no running systemd: the unit's ExecStart and ExecReload as User=postern)"
    install -d -o postern -g postern -m 0750 /run/postern  # what RuntimeDirectory=postern makes
    mkdir -m 0755 "$work/notify"
    chmod 0711 "$work"
    python3 "$here/tcp_tools.py" notify-listener "$work/notify/sock" "$work/notify.log" &
    notify_pid=$!
    for ((i = 0; i < 50; i++)); do [ -S "$work/notify/sock" ] && break; sleep 0.1; done
    # shellcheck disable=SC2086
    # setpriv execs (runuser would stay the parent and turn our SIGTERM into its own exit 143).
    NOTIFY_SOCKET="$work/notify/sock" setpriv --reuid postern --regid postern --init-groups -- \
      $exec_start >"$work/run.log" 2>&1 &
    pid=$!
    for ((i = 0; i < 100; i++)); do grep -q '^READY=1' "$work/notify.log" 2>/dev/null && break; sleep 0.1; done
    check "ExecStart as user postern: READY=1" grep -q '^READY=1' "$work/notify.log"
    check "control socket /run/postern/postern.sock is postern:postern 0660" \
      test "$(stat -c '%U:%G %a %F' /run/postern/postern.sock 2>/dev/null)" = "postern:postern 660 socket"
    # shellcheck disable=SC2086
    reload_cmd() { runuser -u postern -- $exec_reload; }
  fi
  # A bad config: the reload fails, naming the error's position; the instance keeps serving.
  printf '[gateway]\nworkers = 1\nbogus = 1\n' >/etc/postern/postern.toml
  out="$(reload_cmd 2>&1)" && rc=0 || rc=$?
  check "reload of a bad config fails with exit 2 ($(tail -1 <<<"$out"))" test "$rc" = 2
  if grep -q 'reload is not supported by this build yet' <<<"$out"; then
    echo "     (this build's gateway has no in-place reload yet: it rejects every reload)"
  else
    check "the error names the file and position" grep -qF "/etc/postern/postern.toml:3:1: unknown key 'bogus'" <<<"$out"
  fi
  check "still serving after the rejected reload" python3 "$here/tcp_tools.py" accepts "$port"
  # The good config again: the reload succeeds.
  test_config "$port" >/etc/postern/postern.toml
  out="$(reload_cmd 2>&1)" && rc=0 || rc=$?
  if [ "$rc" = 2 ] && grep -q 'reload is not supported by this build yet' <<<"$out"; then
    ok "reload of a good config: exit 2, this build's gateway has no in-place reload yet"
  else
    check "reload of a good config succeeds with exit 0 ($(tail -1 <<<"$out"))" test "$rc" = 0
  fi
  if [ "$systemd_runs" = 1 ]; then
    systemctl stop postern || true
  else
    check "each reload: RELOADING=1 with MONOTONIC_USEC, then READY=1" \
      test "$(grep -c '^RELOADING=1 .*MONOTONIC_USEC=[0-9]' "$work/notify.log")" = 2 -a \
           "$(grep -c '^READY=1' "$work/notify.log")" = 3
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" && rc=0 || rc=$?
    check "SIGTERM: exit 0" test "$rc" = 0
    check "its log: each reload and its result" \
      test "$(grep -c 'msg="configuration reload rejected\|msg="configuration reloaded' "$work/run.log")" = 2
    check "the control socket file is removed at the stop" test ! -e /run/postern/postern.sock
    kill "$notify_pid" 2>/dev/null || true
    wait "$notify_pid" 2>/dev/null || true
    rm -rf /run/postern
    chmod 0700 "$work"
  fi
  cp "$work/installed.toml" /etc/postern/postern.toml
}

# --- 5. a real install on this machine ------------------------------------------------------
if [ "${POSTERN_DEB_TEST_INSTALL:-1}" = "0" ]; then
  echo "skip real install: POSTERN_DEB_TEST_INSTALL=0"
elif [ "$(id -u)" -ne 0 ]; then
  echo "skip real install: not root"
elif dpkg-query -W -f='${Status}' postern 2>/dev/null | grep -q installed ||
     dpkg-query -W -f='${Status}' postern-dev 2>/dev/null | grep -q installed; then
  echo "skip real install: a postern package is already installed on this machine"
else
  user_existed=0
  getent passwd postern >/dev/null && user_existed=1
  # stdin from /dev/null: a conffile prompt fails instead of hanging.
  if dpkg -i "$deb" "$deb_dev" </dev/null >"$work/dpkg.log" 2>&1; then
    ok "dpkg -i postern postern-dev"
    check "system user postern exists" sh -c 'getent passwd postern | grep -q ":/nonexistent:/usr/sbin/nologin$"'
    check "config is root:postern 0640" test "$(stat -c '%U:%G %a' /etc/postern/postern.toml)" = "root:postern 640"
    check "unit enabled (multi-user.target.wants)" test -L /etc/systemd/system/multi-user.target.wants/postern.service
    if out="$(systemd-analyze verify /lib/systemd/system/postern.service 2>&1)" && [ -z "$out" ]; then
      ok "systemd-analyze verify (installed)"
    else
      fail "systemd-analyze verify (installed): $out"
    fi
    check "postern check as installed" sh -c '/usr/bin/postern check -c /etc/postern/postern.toml | grep -qx "configuration ok"'
    if out="$(logrotate -d -s "$work/lr-installed.state" /etc/logrotate.d/postern 2>&1)"; then
      ok "logrotate -d on the installed /etc/logrotate.d/postern"
    else
      fail "logrotate -d on the installed /etc/logrotate.d/postern: $out"
    fi
    # A local edit to the conffile survives a reinstall of the same package.
    echo "# local edit" >>/etc/postern/postern.toml
    dpkg -i "$deb" </dev/null >>"$work/dpkg.log" 2>&1 || fail "dpkg -i (reinstall)"
    check "edited conffile kept on reinstall" grep -qx "# local edit" /etc/postern/postern.toml
    reload_test
  else
    fail "dpkg -i: $(tail -20 "$work/dpkg.log")"
  fi
  if dpkg --purge postern-dev postern </dev/null >>"$work/dpkg.log" 2>&1; then
    ok "dpkg --purge"
  else
    fail "dpkg --purge: $(tail -20 "$work/dpkg.log")"
  fi
  check "purge removed /usr/bin/postern, /etc/postern, the unit and /etc/logrotate.d/postern" \
    sh -c '! test -e /usr/bin/postern && ! test -e /etc/postern && ! test -e /lib/systemd/system/postern.service && ! test -e /etc/logrotate.d/postern'
  check "purge removed the enable symlink" sh -c '! test -L /etc/systemd/system/multi-user.target.wants/postern.service'
  # The package keeps its system user on purge (policy); this test leaves the machine as it found it.
  if [ "$user_existed" = 0 ] && getent passwd postern >/dev/null; then
    deluser --system --quiet postern >/dev/null 2>&1 || userdel postern || true
    getent group postern >/dev/null && { delgroup --system --quiet postern >/dev/null 2>&1 || groupdel postern || true; }
  fi
fi

if [ "$fails" -gt 0 ]; then
  echo "deb_test: $fails check(s) FAILED"
  exit 1
fi
echo "deb_test: OK"
