#!/usr/bin/env bash
# Nodes behind two different NATs, with a Relay Server: the tunnel starts on
# the relay at once, hole punching runs alongside, and the path is checked
# for each NAT pair (port-preserving on both sides, port-randomising on both,
# mixed). Also: the RS restarts during a relayed transfer, a node moves
# during one, and a direct path that starts dropping everything falls back
# to the relay.
set -uo pipefail
# shellcheck source=tests/system/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

sys_init
DOMAIN=a.example

topo_host dc
topo_internet_attach dc 203.0.113.1/24 eth0
topo_host rs
topo_internet_attach rs 203.0.113.5/24 eth0

# Four NATed LANs: p1/p2 port-preserving, r1/r2 port-randomising.
declare -A LAN_PREFIX=([p1]=192.0.2.0/26 [p2]=192.0.2.64/26 [r1]=192.0.2.128/26
	[r2]=192.0.2.192/26)
declare -A LAN_PUBLIC=([p1]=203.0.113.21 [p2]=203.0.113.22 [r1]=203.0.113.23
	[r2]=203.0.113.24)
declare -A HOST_ADDR=([p1]=192.0.2.2/26 [p2]=192.0.2.66/26 [r1]=192.0.2.130/26
	[r2]=192.0.2.194/26)
for lan in p1 p2 r1 r2; do
	mode=
	[[ $lan == r* ]] && mode=random
	topo_home_network "$lan" "${LAN_PUBLIC[$lan]}" "${LAN_PREFIX[$lan]}" $mode
	topo_host "n$lan"
	topo_attach "n$lan" "$lan" "${HOST_ADDR[$lan]}" eth0
	topo_default_route "n$lan" "$TOPO_GATEWAY"
done

sys_rs rs 203.0.113.5 || exit 1
sys_dc dc 203.0.113.1 "$DOMAIN" 198.51.100.0/24 || exit 1
declare -A VIP
for lan in p1 p2 r1 r2; do
	sys_node "n$lan" "n$lan.$DOMAIN" || exit 1
	check "n$lan registers" sys_wait_registered "n$lan"
	VIP[$lan]=$(sys_vip "n$lan")
done
sys_make_file "$WORK/payload" 8
relay_up() {
	[[ $(sys_admin dc 47880 GET /v1/relays | jq -r '.relays[0].up') == true ]]
}
check "the DC sees the relay up" sys_wait_for 5 relay_up

path_of() {
	sys_tunnel "$1" "$2.$DOMAIN" path
}

# pair NAME A B EXPECTED_PATH: ping, 8 MiB TCP each way, path on A.
pair() {
	local name=$1 a=$2 b=$3 expected=$4 path

	check "$name: ping $a -> $b" sys_ping "n$a" "${VIP[$b]}"
	sleep 1.5
	path=$(path_of "n$a" "n$b")
	echo "# $name: path from n$a: $path, endpoint $(sys_tunnel "n$a" "n$b.$DOMAIN" endpoint)"
	check "$name: path is $expected" sys_equal "$path" "$expected"
	check "$name: 8 MiB TCP $a -> $b" sys_tcp_transfer "n$a" "n$b" "${VIP[$b]}" "$WORK/payload" 60
	check "$name: 8 MiB TCP $b -> $a" sys_tcp_transfer "n$b" "n$a" "${VIP[$a]}" "$WORK/payload" 60
}

pair "port-preserving NATs" p1 p2 punched
pair "port-randomising NATs" r1 r2 relayed
# One randomising side: the preserving side's mapping is reachable once the
# randomising side's probe opened it, so punching may work; only report it.
check "mixed NATs: ping p1 -> r1" sys_ping np1 "${VIP[r1]}"
sleep 1.5
echo "# mixed NATs: path from np1: $(path_of np1 nr1)"

# The RS restarts during a relayed transfer.
name="RS restart"
out=$WORK/restart.out
sys_tcp_receive nr2 "${VIP[r2]}" 5002 "$out" || not_ok "$name: receiver"
topo_bg nr1 "$WORK/socat.log" socat -u "OPEN:$WORK/payload" "TCP:${VIP[r2]}:5002"
SYS_SENDER_PID=$TOPO_BG_PID
sleep 0.3
kill -KILL "$RS_PID" 2>/dev/null
sys_wait_pid "$RS_PID" 5 2>/dev/null
topo_bg rs "$WORK/rsd2.log" "$BUILD/rsd/ntm-rsd" -f -c "$WORK/rsd.conf"
RS_PID=$TOPO_BG_PID
check "$name: transfer completes byte-identical" sys_tcp_finish "$WORK/payload" "$out" 60

# A node moves during a relayed transfer: r1's host moves to LAN p2.
name="move while relayed"
out=$WORK/move.out
sys_tcp_receive nr2 "${VIP[r2]}" 5003 "$out" || not_ok "$name: receiver"
topo_bg nr1 "$WORK/socat.log" socat -u "OPEN:$WORK/payload" "TCP:${VIP[r2]}:5003"
SYS_SENDER_PID=$TOPO_BG_PID
sleep 0.3
topo_move nr1 eth0 p2 192.0.2.70/26 192.0.2.65
check "$name: transfer completes byte-identical" sys_tcp_finish "$WORK/payload" "$out" 60

# The direct path between p1 and p2 starts dropping everything: the NAT
# router of p2 drops UDP from p1's public address, the relay still works.
name="direct path dies"
P2_GW=$(topo_ns p2-gw)
ip netns exec "$P2_GW" nft -f - <<EOF
table inet ntmt_block {
	chain pre { type filter hook prerouting priority -300; ip saddr ${LAN_PUBLIC[p1]} drop; }
}
EOF
on_relay() {
	[[ $(path_of np1 np2) == relayed ]]
}
check "$name: falls back to the relay" sys_wait_for 8 on_relay
check "$name: ping p1 -> p2 still works" sys_ping np1 "${VIP[p2]}"

check "daemons stop cleanly on SIGTERM" sys_stop_daemons
check "no sanitizer reports in daemon logs" sys_no_sanitizer_reports
sys_summary
