#!/bin/sh
# deps.sh: install (idempotently) every Debian 12 package gatewatch's build, tests, demo and bench use.
set -eu
PKGS="build-essential pkg-config clang
libpcap-dev libndpi-dev libndpi-bin libzmq3-dev libprotobuf-c-dev protobuf-c-compiler
librrd-dev rrdtool rrdcached libmicrohttpd-dev libjansson-dev libsqlite3-dev sqlite3
libnftables-dev nftables libcmocka-dev libnats-dev nats-server
tshark tcpreplay iperf3 hping3 python3-scapy python3-yaml iproute2 procps curl time prometheus
chromium"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
