#!/bin/sh
# A third party's view: install mynah into a scratch root, build
# examples/module against the installed headers with nothing but
# pkg-config, and load the result (mynahctl check, then a full
# enable/disable cycle through the loader).
set -eu
: "${MYNAH_BUILDDIR:?run through make check}" "${MYNAH_SRCDIR:?run through make check}"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mynah-oot.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# The nested makes must not join make check's jobserver.
unset MAKEFLAGS MFLAGS MAKELEVEL || true

echo "# make install DESTDIR=$tmp/root"
if ! make -C "$MYNAH_BUILDDIR" install DESTDIR="$tmp/root" >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log"
    echo "FAIL: make install"
    exit 1
fi
pc=$(find "$tmp/root" -name mynah.pc | head -n 1)
if [ -z "$pc" ]; then
    echo "FAIL: mynah.pc was not installed"
    exit 1
fi
if ! find "$tmp/root" -path '*/include/mynah/mynah.h' | grep -q .; then
    echo "FAIL: the public headers were not installed"
    exit 1
fi

# The .pc file names the real prefix; the sysroot maps it into $tmp/root.
PKG_CONFIG_PATH=$(dirname "$pc")
PKG_CONFIG_LIBDIR=$PKG_CONFIG_PATH
PKG_CONFIG_SYSROOT_DIR="$tmp/root"
export PKG_CONFIG_PATH PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR
cflags=$(pkg-config --cflags mynah)
echo "# pkg-config --cflags mynah: $cflags"
case "$cflags" in
*"$tmp/root"*) ;;
*) echo "FAIL: pkg-config does not point into the installed copy"; exit 1 ;;
esac

# Build a copy: never write into the source tree.
cp -R "$MYNAH_SRCDIR/examples/module" "$tmp/src"
chmod -R u+w "$tmp/src"
rm -f "$tmp/src/mod_hello.so"
if ! make -C "$tmp/src" CC="${CC:-cc}" >"$tmp/build.log" 2>&1; then
    cat "$tmp/build.log"
    echo "FAIL: examples/module does not build against the installed headers"
    exit 1
fi
if grep -q "warning:" "$tmp/build.log"; then
    cat "$tmp/build.log"
    echo "FAIL: examples/module builds with warnings"
    exit 1
fi
exports=$(nm -D --defined-only "$tmp/src/mod_hello.so" | awk '$2 ~ /[TDBR]/ {print $3}' | grep -v '^_' || true)
if [ "$exports" != "mynah_module_v1" ]; then
    echo "FAIL: mod_hello.so exports: $exports"
    exit 1
fi

# The operator's check: the config names the module, mynahctl opens it
# and validates its options against its schema.
mkdir -p "$tmp/etc"
cat >"$tmp/etc/mynah.cfg.lua" <<CFG
data_path = "$tmp/data"
log = "*console"
plugin_paths = { "$tmp/src" }
modules_enabled = { "hello" }
VirtualHost "example.test"
    hello_greeting = "Hi"
CFG
if [ -x "$MYNAH_BUILDDIR/mynahctl" ]; then
    "$MYNAH_BUILDDIR/mynahctl" -c "$tmp/etc/mynah.cfg.lua" check || {
        echo "FAIL: mynahctl check refused the module"
        exit 1
    }
    sed -i 's/hello_greeting = "Hi"/hello_greeting = 42/' "$tmp/etc/mynah.cfg.lua"
    if "$MYNAH_BUILDDIR/mynahctl" -c "$tmp/etc/mynah.cfg.lua" check >"$tmp/check.log" 2>&1; then
        echo "FAIL: mynahctl check accepted a number for a string option"
        exit 1
    fi
    grep -q "hello_greeting" "$tmp/check.log" || {
        cat "$tmp/check.log"
        echo "FAIL: the check did not name the module's option"
        exit 1
    }
fi

# The loader's own check: enable, look, disable, closed.
"$MYNAH_BUILDDIR/tests/integration/module_smoke" "$tmp/src" hello example.test \
    urn:example:hello "iq-get/host/urn:example:hello:query"
echo "PASS"
