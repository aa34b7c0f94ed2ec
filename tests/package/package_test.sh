#!/usr/bin/env bash
# The Debian packages, built from the normal build directory and checked the
# way a clinic meets them. One step per CTest test (label "package"):
#
#   build     cpack in the build directory -> medrelay-server and medrelay-console .debs
#   contents  files, paths, owners and modes, control fields and dependencies,
#             conffiles, maintainer scripts, and the unit, config and scripts agreeing
#   unit      systemd-analyze verify, and systemd-analyze security in the OK band or better
#   desktop   desktop-file-validate on the console's desktop entry, its command and icon
#   install   (root) dpkg -i, run the installed ExecStart as the unit says, /health,
#             stop, dpkg -r, dpkg -P, and what is left
#   help      medrelay-console --help against docs/CONSOLE.md and the README
#   nsis      the Windows installer script (service install and removal)
#             compiles with makensis; the Windows workflow makes the real one
#
# A step that cannot run here exits 77 with the reason; CTest counts it as
# skipped. Everything a step starts or creates is removed when it ends.
set -euo pipefail

: "${MEDRELAY_SOURCE_DIR:?}" "${MEDRELAY_BUILD_DIR:?}" "${MEDRELAY_PACKAGE_DIR:?}" "${MEDRELAY_VERSION:?}"
SRC=$MEDRELAY_SOURCE_DIR
BUILD=$MEDRELAY_BUILD_DIR
PKG=$MEDRELAY_PACKAGE_DIR
ARCH=$(dpkg --print-architecture)
SERVER_DEB=$PKG/medrelay-server_${MEDRELAY_VERSION}_${ARCH}.deb
CONSOLE_DEB=$PKG/medrelay-console_${MEDRELAY_VERSION}_${ARCH}.deb
SKIP=77

failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}
die() {
    echo "FAIL: $*" >&2
    exit 1
}
ok() { echo "ok: $*"; }
skip() {
    echo "SKIPPED: $*"
    exit "$SKIP"
}
finish() {
    if [ "$failures" -ne 0 ]; then
        echo "$failures check(s) failed" >&2
        exit 1
    fi
    echo "all checks passed"
}

work=$(mktemp -d)
cleanup_steps=()
cleanup() {
    local i
    for ((i = ${#cleanup_steps[@]} - 1; i >= 0; i--)); do
        eval "${cleanup_steps[$i]}" || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

need_debs() {
    [ -f "$SERVER_DEB" ] || die "$SERVER_DEB is missing (the package_build test makes it)"
    [ -f "$CONSOLE_DEB" ] || die "$CONSOLE_DEB is missing (the package_build test makes it)"
}

# "mode owner path" for every entry of a package, e.g. "-rwxr-xr-x root/root ./usr/bin/x".
listing() {
    dpkg-deb -c "$1" | awk '{ print $1, $2, $6 }'
}

# A control field of a package.
field() {
    dpkg-deb -f "$1" "$2"
}

# The value of Key= in a unit file (the last one, as systemd reads it).
unit_value() {
    sed -n "s/^$2=//p" "$1" | tail -n 1
}

depends_on() { # deb package
    field "$1" Depends | tr ',' '\n' | sed 's/^ *//; s/ .*//' | grep -qx "$2"
}

# ---------------------------------------------------------------------------
step_build() {
    rm -rf "$PKG"
    mkdir -p "$PKG"
    if ! (cd "$BUILD" && cpack --config CPackConfig.cmake -G DEB -B "$PKG") >"$work/cpack.log" 2>&1; then
        cat "$work/cpack.log" >&2
        die "cpack failed in $BUILD"
    fi
    tail -n 3 "$work/cpack.log"
    [ -f "$SERVER_DEB" ] && ok "built $(basename "$SERVER_DEB")" || fail "no $SERVER_DEB"
    [ -f "$CONSOLE_DEB" ] && ok "built $(basename "$CONSOLE_DEB")" || fail "no $CONSOLE_DEB"
    finish
}

# ---------------------------------------------------------------------------
# Every file in a package, exactly, with its mode and owner; no other files.
check_files() { # deb expected-lines...
    local deb=$1
    shift
    local expected actual
    expected=$(printf '%s\n' "$@" | sort)
    actual=$(listing "$deb" | awk '$1 !~ /^d/' | sort)
    if [ "$expected" = "$actual" ]; then
        ok "$(basename "$deb"): files, modes and owners as expected"
    else
        fail "$(basename "$deb"): files differ from what is expected"
        diff <(echo "$expected") <(echo "$actual") >&2 || true
    fi
    local bad
    bad=$(listing "$deb" | awk '$1 ~ /^d/ && ($1 != "drwxr-xr-x" || $2 != "root/root")')
    [ -z "$bad" ] && ok "$(basename "$deb"): directories root-owned, 0755" || fail "odd directories: $bad"
    if listing "$deb" | awk '{ print $3 }' | grep -q '^\./usr/local'; then
        fail "$(basename "$deb") installs under /usr/local"
    fi
}

step_contents() {
    need_debs
    check_files "$SERVER_DEB" \
        "-rwxr-xr-x root/root ./usr/bin/medrelay-server" \
        "-rw-r--r-- root/root ./etc/medrelay/medrelay.ini" \
        "-rw-r--r-- root/root ./lib/systemd/system/medrelay-server.service" \
        "-rw-r--r-- root/root ./usr/share/doc/medrelay-server/INSTALL.md" \
        "-rw-r--r-- root/root ./usr/share/doc/medrelay-server/examples/nginx-medrelay.conf" \
        "-rw-r--r-- root/root ./usr/share/medrelay/web/demo.css" \
        "-rw-r--r-- root/root ./usr/share/medrelay/web/demo.js" \
        "-rw-r--r-- root/root ./usr/share/medrelay/web/favicon.svg" \
        "-rw-r--r-- root/root ./usr/share/medrelay/web/index.html" \
        "-rw-r--r-- root/root ./usr/share/medrelay/web/medrelay-client.d.ts" \
        "-rw-r--r-- root/root ./usr/share/medrelay/web/medrelay-client.js" \
        "-rw-r--r-- root/root ./usr/share/medrelay/web/package.json"
    check_files "$CONSOLE_DEB" \
        "-rwxr-xr-x root/root ./usr/bin/medrelay-console" \
        "-rw-r--r-- root/root ./usr/share/applications/medrelay-console.desktop" \
        "-rw-r--r-- root/root ./usr/share/icons/hicolor/scalable/apps/medrelay-console.svg"

    # Control fields and dependencies (shared libraries found by dpkg-shlibdeps).
    local deb
    for deb in "$SERVER_DEB" "$CONSOLE_DEB"; do
        [ "$(field "$deb" Version)" = "$MEDRELAY_VERSION" ] && ok "$(basename "$deb"): version $MEDRELAY_VERSION" \
            || fail "$(basename "$deb"): version $(field "$deb" Version), expected $MEDRELAY_VERSION"
        [ "$(field "$deb" Architecture)" = "$ARCH" ] || fail "$(basename "$deb"): architecture $(field "$deb" Architecture)"
    done
    [ "$(field "$SERVER_DEB" Package)" = medrelay-server ] || fail "server package name $(field "$SERVER_DEB" Package)"
    [ "$(field "$CONSOLE_DEB" Package)" = medrelay-console ] || fail "console package name $(field "$CONSOLE_DEB" Package)"
    local dep
    for dep in adduser procps libqt6sql6-sqlite libc6 libqt6core6 libqt6network6 libqt6websockets6 libjwt0 \
        libhttp-parser2.9 libssl3 libsystemd0; do
        depends_on "$SERVER_DEB" "$dep" || fail "medrelay-server does not depend on $dep: $(field "$SERVER_DEB" Depends)"
    done
    # The console follows the server's admin event stream: Qt WebSockets too.
    for dep in libqt6core6 libqt6gui6 libqt6widgets6 libqt6network6 libqt6websockets6; do
        depends_on "$CONSOLE_DEB" "$dep" || fail "medrelay-console does not depend on $dep: $(field "$CONSOLE_DEB" Depends)"
    done
    if depends_on "$SERVER_DEB" libqt6widgets6 || depends_on "$SERVER_DEB" libqt6gui6; then
        fail "the server package depends on the console's GUI libraries"
    fi
    ok "dependencies: $(field "$SERVER_DEB" Depends)"

    # Control archive: conffiles and maintainer scripts.
    local control=$work/control
    dpkg-deb -e "$SERVER_DEB" "$control"
    [ "$(cat "$control/conffiles")" = "/etc/medrelay/medrelay.ini" ] && ok "conffiles: /etc/medrelay/medrelay.ini" \
        || fail "conffiles: $(cat "$control/conffiles")"
    local f
    while read -r f; do
        listing "$SERVER_DEB" | awk '{ print $3 }' | grep -qx ".$f" || fail "conffile $f is not in the package"
    done <"$control/conffiles"
    local script
    for script in postinst prerm postrm; do
        if [ ! -f "$control/$script" ]; then
            fail "no $script"
            continue
        fi
        [ "$(stat -c %a "$control/$script")" = 755 ] || fail "$script mode $(stat -c %a "$control/$script")"
        [ "$(head -n 1 "$control/$script")" = "#!/bin/sh" ] || fail "$script does not start with #!/bin/sh"
        sh -n "$control/$script" || fail "$script has a syntax error"
        grep -q '^set -e' "$control/$script" || fail "$script does not stop on errors (set -e)"
    done
    ok "maintainer scripts: postinst prerm postrm, 0755, /bin/sh, parse"
    [ "$(cd "$control" && ls | sort | tr '\n' ' ')" = "conffiles control md5sums postinst postrm prerm " ] \
        || fail "unexpected control files: $(ls "$control")"

    # The unit, the configuration and the scripts name the same things (the
    # unit once pointed at a configuration the package did not install).
    local data=$work/data
    mkdir -p "$data"
    dpkg-deb -x "$SERVER_DEB" "$data"
    local unit=$data/lib/systemd/system/medrelay-server.service
    local exec_start binary config
    exec_start=$(unit_value "$unit" ExecStart)
    binary=${exec_start%% *}
    [ -x "$data$binary" ] && ok "ExecStart runs $binary, which the package installs" \
        || fail "ExecStart names $binary, not in the package"
    config=$(sed -n 's/.*--config \([^ ]*\).*/\1/p' <<<"$exec_start")
    grep -qx "$config" "$control/conffiles" && ok "ExecStart's --config $config is the conffile" \
        || fail "ExecStart's --config '$config' is not a conffile"
    [ "$(unit_value "$unit" Type)" = notify ] || fail "unit Type is not notify"
    local user env_file
    user=$(unit_value "$unit" User)
    # (continuation lines joined)
    sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$control/postinst" | grep -q "adduser --system .*$user\$" && ok "postinst creates the unit's user '$user'" \
        || fail "postinst does not create the unit's user '$user'"
    env_file=$(unit_value "$unit" EnvironmentFile)
    env_file=${env_file#-}
    grep -q "$env_file" "$control/postinst" && grep -q "rm -f $env_file" "$control/postrm" \
        && ok "postinst creates $env_file, postrm purges it" || fail "$env_file is not created and purged"
    local state_dir data_dir
    state_dir=/var/lib/$(unit_value "$unit" StateDirectory)
    data_dir=$(sed -n 's/^data-dir=//p' "$data$config")
    [ "$state_dir" = "$data_dir" ] && ok "the unit's StateDirectory is the configuration's data-dir ($data_dir)" \
        || fail "StateDirectory $state_dir but data-dir $data_dir"
    finish
}

# ---------------------------------------------------------------------------
step_unit() {
    need_debs
    command -v systemd-analyze >/dev/null || die "systemd-analyze is missing (scripts/install-deps.sh installs systemd)"
    [ -d /lib/systemd/system ] || die "/lib/systemd/system is missing"
    # A root holding the package and the system's own units, so verify can
    # resolve the targets the unit refers to and check its ExecStart binary
    # without installing anything.
    local root=$work/root
    mkdir -p "$root/lib/systemd/system"
    cp -a /lib/systemd/system/. "$root/lib/systemd/system/"
    dpkg-deb -x "$SERVER_DEB" "$root"
    # The commands the unit runs that come from its dependencies (procps).
    mkdir -p "$root/usr/bin"
    cp /usr/bin/kill "$root/usr/bin/kill"
    local out
    out=$(cd "$root" && systemd-analyze verify --man=no --root="$root" medrelay-server.service 2>&1) \
        && [ -z "$out" ] && ok "systemd-analyze verify: no findings" \
        || fail "systemd-analyze verify: ${out:-exit status non-zero}"
    local report score
    report=$(systemd-analyze security --offline=yes --root="$root" medrelay-server.service 2>&1 || true)
    score=$(sed -n 's/.*Overall exposure level for medrelay-server.service: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p' <<<"$report")
    echo "systemd-analyze security: ${score:-no score}"
    # The README quotes this score; 1.5 keeps the hardening from eroding
    # unnoticed (OK is below 5.0).
    if systemd-analyze security --offline=yes --root="$root" --threshold=15 medrelay-server.service >/dev/null 2>&1; then
        ok "exposure ${score%% *} is at most 1.5"
    else
        fail "exposure ${score:-unknown} is above 1.5"
        grep '✗' <<<"$report" >&2 || true
    fi
    finish
}

# ---------------------------------------------------------------------------
step_desktop() {
    need_debs
    command -v desktop-file-validate >/dev/null || die "desktop-file-validate is missing (desktop-file-utils)"
    local data=$work/console
    mkdir -p "$data"
    dpkg-deb -x "$CONSOLE_DEB" "$data"
    local entry=$data/usr/share/applications/medrelay-console.desktop
    local out
    for f in "$SRC/resources/medrelay-console.desktop" "$entry"; do
        out=$(desktop-file-validate "$f" 2>&1) && [ -z "$out" ] && ok "desktop-file-validate $(basename "$f"): clean" \
            || fail "desktop-file-validate $f: $out"
    done
    local exec icon
    exec=$(sed -n 's/^Exec=\([^ ]*\).*/\1/p' "$entry")
    [ -x "$data/usr/bin/$exec" ] && ok "Exec=$exec is the packaged /usr/bin/$exec" || fail "Exec=$exec is not packaged"
    icon=$(sed -n 's/^Icon=//p' "$entry")
    [ -f "$data/usr/share/icons/hicolor/scalable/apps/$icon.svg" ] && ok "Icon=$icon is the packaged hicolor icon" \
        || fail "Icon=$icon is not packaged"
    if command -v xmllint >/dev/null; then
        xmllint --noout "$data/usr/share/icons/hicolor/scalable/apps/$icon.svg" || fail "the icon is not well-formed SVG"
    fi
    finish
}

# ---------------------------------------------------------------------------
# Waits (bounded) until FILE contains a line equal to TEXT, while PID lives.
wait_for_line() { # file text pid seconds
    local file=$1 text=$2 pid=$3 tries=$(($4 * 10))
    while ((tries-- > 0)); do
        grep -qx "$text" "$file" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || { grep -qx "$text" "$file" 2>/dev/null; return; }
        sleep 0.1
    done
    return 1
}

http_status() { # url [header]
    curl -s -o "$work/body" -w '%{http_code}' ${2:+-H "$2"} "$1" || true
}

step_install() {
    need_debs
    [ "$(id -u)" -eq 0 ] || skip "installing a package with dpkg needs root (CI runs this test as root on a throwaway machine)"
    command -v curl >/dev/null || die "curl is missing"
    [ -x "${MEDRELAY_NOTIFY_PROBE:-}" ] || die "notify-probe is missing"
    # One installation at a time on this machine, whichever build directory
    # runs it (dpkg's own lock would make a second one fail half-way).
    local lock=/run/lock/medrelay-package-install.lock
    [ -d /run/lock ] || lock=/tmp/medrelay-package-install.lock
    exec 9>"$lock"
    flock -w 200 9 || die "another package_install run holds $lock"
    local status
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' medrelay-server 2>/dev/null || true)
    if [ -n "$status" ] && [ "${status:0:2}" != "un" ]; then
        skip "medrelay-server is already known to dpkg here (status '$status'); this test leaves an existing installation alone"
    fi

    local user_existed=no data_existed=no
    getent passwd medrelay >/dev/null && user_existed=yes
    [ -e /var/lib/medrelay ] && data_existed=yes
    cleanup_steps+=("dpkg --purge medrelay-server >/dev/null 2>&1")
    if [ "$user_existed" = no ]; then
        cleanup_steps+=("getent passwd medrelay >/dev/null && userdel medrelay; getent group medrelay >/dev/null && groupdel medrelay")
    fi
    if [ "$data_existed" = no ]; then
        cleanup_steps+=("rm -rf /var/lib/medrelay")
    fi

    # --- install
    dpkg -i "$SERVER_DEB" >"$work/dpkg-i.log" 2>&1 || { cat "$work/dpkg-i.log" >&2; die "dpkg -i failed"; }
    ok "dpkg -i $(basename "$SERVER_DEB")"
    [ "$(dpkg-query -W -f='${db:Status-Abbrev}' medrelay-server)" = "ii " ] || fail "not installed after dpkg -i"
    dpkg-query -W -f='${Conffiles}\n' medrelay-server | grep -q '^ /etc/medrelay/medrelay.ini ' \
        && ok "dpkg registered /etc/medrelay/medrelay.ini as a conffile" || fail "conffile not registered"
    local entry uid shell
    entry=$(getent passwd medrelay) || die "no medrelay user after install"
    uid=$(cut -d: -f3 <<<"$entry")
    shell=$(cut -d: -f7 <<<"$entry")
    ((uid < 1000)) && [ "$shell" = /usr/sbin/nologin ] && ok "medrelay is a system user (uid $uid, $shell)" \
        || fail "medrelay user: $entry"
    getent group medrelay >/dev/null || fail "no medrelay group"
    [ "$(stat -c '%U:%G %a' /var/lib/medrelay)" = "medrelay:medrelay 700" ] && ok "/var/lib/medrelay medrelay:medrelay 0700" \
        || fail "/var/lib/medrelay is $(stat -c '%U:%G %a' /var/lib/medrelay)"
    [ "$(stat -c '%U:%G %a' /etc/default/medrelay-server)" = "root:root 600" ] \
        && ok "/etc/default/medrelay-server root:root 0600" \
        || fail "/etc/default/medrelay-server is $(stat -c '%U:%G %a' /etc/default/medrelay-server)"
    [ "$(stat -c '%U:%G %a %s' /etc/medrelay/history.key)" = "root:medrelay 640 32" ] \
        && ok "/etc/medrelay/history.key root:medrelay 0640, 32 bytes" \
        || fail "/etc/medrelay/history.key is $(stat -c '%U:%G %a %s' /etc/medrelay/history.key 2>&1)"
    local admin_token
    admin_token=$(sed -n 's/^MEDRELAY_ADMIN_TOKEN=//p' /etc/default/medrelay-server)
    [ ${#admin_token} -ge 32 ] && grep -Eq '^MEDRELAY_JWT_SECRET=[0-9a-f]{64}$' /etc/default/medrelay-server \
        && ok "postinst generated an admin token and a JWT secret" || fail "secrets were not generated"
    local wants=/etc/systemd/system/multi-user.target.wants/medrelay-server.service
    [ "$(readlink "$wants")" = /lib/systemd/system/medrelay-server.service ] && ok "enabled: $wants" \
        || fail "not enabled ($wants -> $(readlink "$wants" || echo nothing))"
    local unit=/lib/systemd/system/medrelay-server.service
    local out
    out=$(systemd-analyze verify --man=no "$unit" 2>&1) && [ -z "$out" ] && ok "systemd-analyze verify on the installed unit" \
        || fail "systemd-analyze verify: ${out:-exit status non-zero}"

    # --- run ExecStart as the unit says: its user and group, no new
    # privileges, no capabilities, its environment file, its umask, / as the
    # working directory, and a notification socket as systemd would give.
    local exec_start run_user run_group env_file umask_value
    exec_start=$(unit_value "$unit" ExecStart)
    [ "$(grep -c '^ExecStart=' "$unit")" -eq 1 ] || fail "the unit has more than one ExecStart"
    case $exec_start in
    *[\"\'%\$\\]* | [-@:+!]*) die "ExecStart uses quoting, specifiers or prefixes this test does not interpret: $exec_start" ;;
    esac
    local -a argv
    read -r -a argv <<<"$exec_start"
    run_user=$(unit_value "$unit" User)
    run_group=$(unit_value "$unit" Group)
    env_file=$(unit_value "$unit" EnvironmentFile)
    env_file=${env_file#-}
    umask_value=$(unit_value "$unit" UMask)
    local -a env_args=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
    local line key value
    while IFS= read -r line || [ -n "$line" ]; do
        case $line in '' | '#'* | ';'*) continue ;; esac
        key=${line%%=*}
        value=${line#*=}
        value=${value#\"}
        value=${value%\"}
        [[ $key =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "cannot read line of $env_file: $line"
        env_args+=("$key=$value")
    done <"$env_file"
    while IFS= read -r line; do
        env_args+=($line)
    done < <(sed -n 's/^Environment=//p' "$unit")

    # The installed configuration listens on port 9003; if something here
    # already does, WS_PORT=0 (an environment override, as a clinic could put
    # in the environment file) picks a free one.
    local port_override=()
    if (exec 3<>/dev/tcp/127.0.0.1/9003) 2>/dev/null; then
        echo "note: port 9003 is in use here; adding WS_PORT=0"
        port_override=(WS_PORT=0)
    fi

    local sock=$work/notify/notify.sock
    mkdir -p "$work/notify"
    chmod 0755 "$work" "$work/notify"
    "$MEDRELAY_NOTIFY_PROBE" "$sock" "$work/notify.log" &
    local probe_pid=$!
    cleanup_steps+=("kill $probe_pid 2>/dev/null; wait $probe_pid 2>/dev/null")
    local tries=50
    while [ ! -S "$sock" ] && ((tries-- > 0)); do sleep 0.1; done
    [ -S "$sock" ] || die "notify-probe did not create $sock"

    echo "running as $run_user:$run_group: ${argv[*]}"
    (
        cd /
        umask "${umask_value:-0022}"
        exec env -i "${env_args[@]}" "${port_override[@]}" NOTIFY_SOCKET="$sock" \
            setpriv --reuid="$run_user" --regid="$run_group" --init-groups --no-new-privs \
            --inh-caps=-all --bounding-set=-all -- "${argv[@]}"
    ) >"$work/server.out" 2>"$work/server.err" &
    local server_pid=$!
    cleanup_steps+=("kill -KILL $server_pid 2>/dev/null; wait $server_pid 2>/dev/null")

    if wait_for_line "$work/notify.log" READY=1 "$server_pid" 30; then
        ok "READY=1 on the notification socket"
    else
        cat "$work/server.err" >&2
        die "no READY=1 from the installed server"
    fi
    local port
    port=$(sed -n 's/.*listening on [^ ]*:\([0-9]*\)$/\1/p' "$work/server.out" | head -n 1)
    [ -n "$port" ] || die "the server did not say where it listens: $(cat "$work/server.out")"
    [ "$(stat -c %U "/proc/$server_pid")" = "$run_user" ] && ok "the server runs as $run_user" \
        || fail "the server runs as $(stat -c %U "/proc/$server_pid")"
    grep -q '^STATUS=listening on ' "$work/notify.log" && ok "STATUS=$(grep -m1 '^STATUS=listening' "$work/notify.log" | cut -d= -f2-)" \
        || fail "no STATUS line"

    [ "$(http_status "http://127.0.0.1:$port/health")" = 200 ] && grep -q '"status":"healthy"' "$work/body" \
        && ok "/health: 200 $(cat "$work/body")" || fail "/health: $(cat "$work/body" 2>/dev/null)"
    # Production mode from the installed configuration, secrets from the
    # environment file: /stats wants the generated admin token.
    [ "$(http_status "http://127.0.0.1:$port/stats")" = 401 ] && ok "/stats without the token: 401" \
        || fail "/stats without the token did not answer 401"
    [ "$(http_status "http://127.0.0.1:$port/stats" "Authorization: Bearer $admin_token")" = 200 ] \
        && grep -q '"mode":"production"' "$work/body" && ok "/stats with the generated token: 200, production" \
        || fail "/stats with the token: $(cat "$work/body" 2>/dev/null)"
    [ "$(stat -c '%U %a' /var/lib/medrelay/audit.jsonl 2>/dev/null)" = "medrelay 600" ] \
        && ok "audit log /var/lib/medrelay/audit.jsonl, medrelay, 0600" \
        || fail "audit log: $(stat -c '%U %a' /var/lib/medrelay/audit.jsonl 2>&1)"

    # --- stop as systemd does (KillSignal=SIGTERM): STOPPING=1, exit 0.
    kill -TERM "$server_pid"
    wait_for_line "$work/notify.log" STOPPING=1 "$server_pid" 30 && ok "STOPPING=1 when the drain starts" \
        || fail "no STOPPING=1"
    local rc=0
    wait "$server_pid" || rc=$?
    [ "$rc" -eq 0 ] && ok "exit status 0 after SIGTERM" || fail "exit status $rc after SIGTERM: $(cat "$work/server.err")"

    # --- remove: program and unit go; configuration, secrets and data stay.
    dpkg -r medrelay-server >"$work/dpkg-r.log" 2>&1 || { cat "$work/dpkg-r.log" >&2; die "dpkg -r failed"; }
    [ "$(dpkg-query -W -f='${db:Status-Abbrev}' medrelay-server)" = "rc " ] && ok "dpkg -r: removed, configuration kept" \
        || fail "status after dpkg -r: $(dpkg-query -W -f='${db:Status-Abbrev}' medrelay-server)"
    [ ! -e /usr/bin/medrelay-server ] && [ ! -e "$unit" ] || fail "program or unit left after dpkg -r"
    [ -f /etc/medrelay/medrelay.ini ] && [ -f /etc/default/medrelay-server ] || fail "configuration gone after dpkg -r"
    [ "$(readlink /etc/systemd/system/medrelay-server.service)" = /dev/null ] && ok "unit masked after removal" \
        || fail "unit not masked after removal"

    # --- purge: configuration, secrets, enablement and mask go; data and the user stay.
    dpkg -P medrelay-server >"$work/dpkg-p.log" 2>&1 || { cat "$work/dpkg-p.log" >&2; die "dpkg -P failed"; }
    [ -z "$(dpkg-query -W -f='${db:Status-Abbrev}' medrelay-server 2>/dev/null | grep -v '^un')" ] \
        && ok "dpkg -P: purged" || fail "still known to dpkg after purge"
    local left
    for left in /etc/medrelay /etc/default/medrelay-server /etc/systemd/system/medrelay-server.service "$wants" \
        /var/lib/systemd/deb-systemd-helper-enabled/medrelay-server.service.dsh-also \
        /var/lib/systemd/deb-systemd-helper-masked/medrelay-server.service; do
        [ -e "$left" ] || [ -L "$left" ] && fail "$left is left after purge"
    done
    ok "purge removed /etc/medrelay, /etc/default/medrelay-server, enablement and mask"
    [ -s /var/lib/medrelay/audit.jsonl ] && ok "purge kept the audit log /var/lib/medrelay/audit.jsonl" \
        || fail "purge removed the audit log"
    [ -s /var/lib/medrelay/audit.key ] && ok "purge kept the audit key beside the log (/var/lib/medrelay/audit.key)" \
        || fail "purge lost the audit key that verifies the kept log"
    getent passwd medrelay >/dev/null && ok "purge kept the medrelay user (owner of the kept data)" \
        || fail "purge removed the medrelay user"
    grep -iE 'warning|error' "$work/dpkg-i.log" "$work/dpkg-r.log" "$work/dpkg-p.log" >&2 \
        && fail "dpkg reported warnings or errors" || true
    finish
}

# ---------------------------------------------------------------------------
# Options a medrelay-console command line in a document uses.
console_options_in() {
    grep -h 'medrelay-console' "$@" | grep -o -- '--[a-z][a-z-]*' | sort -u
}

step_help() {
    : "${MEDRELAY_CONSOLE_BINARY:?}"
    local help
    help=$(QT_QPA_PLATFORM=offscreen "$MEDRELAY_CONSOLE_BINARY" --help 2>/dev/null) || die "medrelay-console --help failed"
    local offered
    offered=$(grep -o -- '^ *\(-[a-z], \)\?--[a-z][a-z-]*' <<<"$help" | grep -o -- '--[a-z-]*' | sort -u)
    [ -n "$offered" ] || die "no options in: $help"
    local opt
    for opt in $offered; do
        grep -q -- "\`$opt\b\|$opt " "$SRC/docs/CONSOLE.md" || fail "--help offers $opt, docs/CONSOLE.md does not describe it"
    done
    for opt in $(console_options_in "$SRC/README.md" "$SRC/docs/CONSOLE.md"); do
        grep -qx -- "$opt" <<<"$offered" || fail "the docs run medrelay-console $opt, which --help does not offer"
    done
    ok "medrelay-console --help offers $(echo $offered), all documented; every documented command line uses only these"
    finish
}

# ---------------------------------------------------------------------------
# The NSIS script CPack writes for Windows, with the commands that install
# and remove the service, compiled by makensis. Only the console component
# is packed here: the Debian-only absolute paths of the server component are
# not allowed in NSIS, and the script is the same for both.
step_nsis() {
    command -v makensis >/dev/null || die "makensis is missing (scripts/install-deps.sh installs nsis)"
    [ -x "$BUILD/console/medrelay-console" ] || die "build the console first"
    if ! (cd "$BUILD" && cpack --config CPackConfig.cmake -G NSIS -B "$work/nsis" -D CPACK_COMPONENTS_ALL=console) \
        >"$work/nsis.log" 2>&1; then
        cat "$work/nsis.log" >&2
        die "cpack -G NSIS (makensis) failed"
    fi
    ls "$work"/nsis/*.exe >/dev/null 2>&1 && ok "makensis compiled the installer script" || fail "no installer made"
    local script
    script=$(ls "$work"/nsis/_CPack_Packages/*/NSIS/project.nsi)
    grep -qF 'sc.exe create medrelay-server binPath= "\"$INSTDIR\bin\medrelay-server.exe\" --service --config' "$script" \
        && ok "the installer registers medrelay-server.exe --service" || fail "no sc.exe create line: $(grep -n 'sc.exe' "$script")"
    grep -q "net.exe stop medrelay-server" "$script" && grep -q "sc.exe delete medrelay-server" "$script" \
        && ok "the uninstaller stops (drains) and removes the service" || fail "service removal missing"
    finish
}

case "${1:-}" in
build) step_build ;;
contents) step_contents ;;
unit) step_unit ;;
desktop) step_desktop ;;
install) step_install ;;
help) step_help ;;
nsis) step_nsis ;;
*)
    echo "usage: $0 build|contents|unit|desktop|install|help|nsis" >&2
    exit 2
    ;;
esac
