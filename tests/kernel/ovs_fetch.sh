#!/bin/sh
# Fetch Open vSwitch (Debian packages) for the optional OVS oracle of tests/kernel/test_ovs_oracle.py,
# UNPACKED, NOT INSTALLED: `apt-get download` + `dpkg-deb -x` into a cache outside the repository,
# no kernel module (the oracle uses datapath_type=netdev).  Idempotent: does nothing when the
# binaries are already there.  Never fails the caller: on any failure the reason is written to
# $OVS_CACHE/unavailable (the test skips, loudly, quoting it) and the script exits 0.
#
#   OVS_CACHE   cache directory (default /var/cache/vnetlab/ovs): debs/, root/, unavailable
set -u
CACHE=${OVS_CACHE:-/var/cache/vnetlab/ovs}
ROOT=$CACHE/root
DEBS=$CACHE/debs
MARKER=$CACHE/unavailable
# openvswitch-switch/-common and the libraries the binaries link that a minimal Debian 12 lacks
# (checked with ldd on ovs-vswitchd, ovsdb-server, ovs-vsctl, ovs-ofctl, ovs-appctl, ovsdb-tool)
PACKAGES="openvswitch-switch openvswitch-common libunbound8 libxdp1 libbpf1 libevent-2.1-7 libnuma1 libcap-ng0 libelf1"
BINARIES="usr/sbin/ovsdb-server usr/lib/openvswitch-switch/ovs-vswitchd usr/bin/ovs-vsctl
usr/bin/ovs-ofctl usr/bin/ovs-appctl usr/bin/ovsdb-tool"

fail() {
    mkdir -p "$CACHE" 2>/dev/null
    printf '%s\n' "$*" >"$MARKER" 2>/dev/null
    echo "ovs_fetch: OVS oracle unavailable: $*" >&2
    exit 0
}

# ldd on every binary: no "not found" library left
check() {
    for b in $BINARIES; do
        [ -x "$ROOT/$b" ] || return 1
        missing=$(LD_LIBRARY_PATH="$ROOT/usr/lib/x86_64-linux-gnu:$ROOT/lib/x86_64-linux-gnu" \
                  ldd "$ROOT/$b" 2>&1 | awk '/not found/{print $1}' | sort -u | tr '\n' ' ')
        if [ -n "$missing" ]; then
            echo "$b: missing libraries: $missing"
            return 2
        fi
    done
    [ -f "$ROOT/usr/share/openvswitch/vswitch.ovsschema" ] || { echo "no vswitch.ovsschema"; return 2; }
    return 0
}

if check >/dev/null 2>&1; then
    rm -f "$MARKER"
    exit 0
fi
[ "$(id -u)" = 0 ] || fail "not root (apt-get download and the netns oracle need root)"
command -v apt-get >/dev/null 2>&1 || fail "no apt-get (not a Debian-like system)"
command -v dpkg-deb >/dev/null 2>&1 || fail "no dpkg-deb"
mkdir -p "$DEBS" "$ROOT" || fail "cannot create $CACHE"
cd "$DEBS" || fail "cannot enter $DEBS"
log=$CACHE/fetch.log
# _apt cannot write into a root-owned directory: download as root
if ! apt-get download -o APT::Sandbox::User=root $PACKAGES >"$log" 2>&1; then
    apt-get update -qq >>"$log" 2>&1
    apt-get download -o APT::Sandbox::User=root $PACKAGES >>"$log" 2>&1 \
        || fail "apt-get download $PACKAGES failed: $(tail -n 3 "$log" | tr '\n' ' ')"
fi
for deb in "$DEBS"/*.deb; do
    dpkg-deb -x "$deb" "$ROOT" >>"$log" 2>&1 || fail "dpkg-deb -x $deb failed"
done
why=$(check 2>&1)
[ $? = 0 ] || fail "unpacked OVS is not runnable: $why"
rm -f "$MARKER"
echo "ovs_fetch: Open vSwitch unpacked in $ROOT"
