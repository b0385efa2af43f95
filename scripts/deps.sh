# Sourced by the run and test scripts: installs the Debian 12 packages
# mynah needs to build, run and test, when any is missing.
MYNAH_DEPS="build-essential autoconf automake libtool pkg-config
 libevent-dev libexpat1-dev libgnutls28-dev gnutls-bin libgsasl-dev libidn-dev
 libidn2-dev liblua5.4-dev lua5.4 libsqlite3-dev sqlite3"
MYNAH_TEST_DEPS="python3 python3-pytest python3-slixmpp libstrophe-dev clang
 libclang-rt-14-dev"

mynah_install_deps() {
    missing=""
    for p in $MYNAH_DEPS "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "==> installing Debian packages:$missing"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
}

mynah_bootstrap() {
    if [ ! -x "$MYNAH_SRC/configure" ] || [ "$MYNAH_SRC/configure.ac" -nt "$MYNAH_SRC/configure" ]; then
        echo "==> autoreconf"
        (cd "$MYNAH_SRC" && autoreconf -fi) >/dev/null
    fi
}
