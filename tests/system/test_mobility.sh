#!/usr/bin/env bash
# Mobility: a 50 MiB TCP transfer between VIPs continues, byte-identical,
# while the sending node moves to another network mid-transfer:
#   run 1  m1 moves from one home network to another (NAT to NAT), to the
#          global node r;
#   run 2  m2 moves from the Internet to behind a NAT, to r;
#   run 3  m3 moves to another Internet address, to h behind a NAT. That
#          NAT drops packets from the new address until h opens the path.
# A rate limit on the mover's links stretches each transfer to about 5 s,
# so the move happens after the first 10 MiB arrived and well before the end.
# Last, m1 moves back home the way DHCP clients configure a link: the
# address first, the default route 100 ms later. The tunnel must be
# re-created within 80 ms of the route, the re-creation time of the NTMobile
# prototype from Meijo University (IPSJ Journal, 2014), which the suite aims
# to beat by far.
set -uo pipefail
# shellcheck source=tests/system/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

readonly DOMAIN=a.example
readonly RATE=80mbit
readonly FILE_MIB=50
# The move happens once this much has arrived.
readonly MOVE_AFTER_BYTES=$((10 * 1024 * 1024))
readonly MAX_RECREATE_US=80000

sys_init
topo_host dc
topo_internet_attach dc 203.0.113.20/24 eth0
topo_host r
topo_internet_attach r 203.0.113.50/24 eth0
topo_home_network home 203.0.113.10 192.0.2.0/26
topo_home_network foreign 203.0.113.11 192.0.2.64/26
# m1 starts at home and gets a link into foreign, without an address.
topo_host m1
topo_attach m1 home 192.0.2.2/26 eth0
topo_default_route m1 192.0.2.1
topo_attach m1 foreign - eth1
# m2 starts on the Internet and gets a link into home, without an address.
topo_host m2
topo_internet_attach m2 203.0.113.60/24 eth0
topo_attach m2 home - eth1
# m3 starts on the Internet and gets a second link to it, without an address.
topo_host m3
topo_internet_attach m3 203.0.113.61/24 eth0
topo_attach m3 inet - eth1
topo_host h
topo_attach h home 192.0.2.4/26 eth0
topo_default_route h 192.0.2.1
for node in m1 m2 m3; do
	topo_rate "$node" eth0 "$RATE"
	topo_rate "$node" eth1 "$RATE"
done

sys_dc dc 203.0.113.20 "$DOMAIN" 198.51.100.0/24
declare -A VIP=()
for node in r h m1 m2 m3; do
	sys_node "$node" "$node.$DOMAIN"
	check "$node registers" sys_wait_registered "$node"
	VIP[$node]=$(sys_vip "$node")
done
sys_make_file "$WORK/payload" "$FILE_MIB"
TOTAL_BYTES=$(sys_file_size "$WORK/payload")

# received_at_least FILE BYTES
received_at_least() {
	(($(sys_file_size "$1") >= $2))
}

# move_run NAME NODE PEER PORT NEW_LAN NEW_ADDR GATEWAY OBSERVED_IP
# NODE sends the payload to PEER's VIP on PORT and moves from eth0 to eth1
# in NEW_LAN once MOVE_AFTER_BYTES arrived. Afterwards PEER must send to
# OBSERVED_IP, NODE's new public address.
move_run() {
	local name=$1 node=$2 r=$3 port=$4 lan=$5 address=$6 gateway=$7 observed=$8
	local out=$WORK/received.$node moves handovers at_move endpoint

	check "$name: ping $node -> $r before the move" sys_ping "$node" "${VIP[$r]}"
	moves=$(sys_status "$node" .moves)
	handovers=$(sys_tunnel "$r" "$node.$DOMAIN" handovers)

	sys_tcp_receive "$r" "${VIP[$r]}" "$port" "$out"
	sys_tcp_send_bg "$node" "${VIP[$r]}" "$port" "$WORK/payload"
	check "$name: first 10 MiB arrive before the move" \
		sys_wait_for 20 received_at_least "$out" "$MOVE_AFTER_BYTES"
	topo_move "$node" eth0 "$lan" "$address" "$gateway"
	at_move=$(sys_file_size "$out")
	echo "# $name: moved after $at_move of $TOTAL_BYTES bytes"
	check "$name: the move happens mid-transfer" sys_greater $((TOTAL_BYTES - at_move)) 0

	check "$name: $FILE_MIB MiB arrive byte-identical" \
		sys_tcp_finish "$WORK/payload" "$out" 60
	check "$name: $node counts the move" sys_greater "$(sys_status "$node" .moves)" "$moves"
	check "$name: $r counts a handover of $node" \
		sys_greater "$(sys_tunnel "$r" "$node.$DOMAIN" handovers)" "$handovers"
	endpoint=$(sys_tunnel "$r" "$node.$DOMAIN" endpoint)
	check "$name: $r sends to $node's new address" sys_equal "$observed" "${endpoint%:*}"
	check "$name: ping $node -> $r after the move" sys_ping "$node" "${VIP[$r]}"
	check "$name: ping $r -> $node after the move" sys_ping "$r" "${VIP[$node]}"
	echo "# $name: $node status: $(sys_status "$node" \
		'{moves, registrations, observed, last_recreate_us} | tojson')"
}

move_run "NAT to NAT" m1 r 5001 foreign 192.0.2.66/26 192.0.2.65 203.0.113.11
move_run "Internet to NAT" m2 r 5002 home 192.0.2.3/26 192.0.2.1 203.0.113.10
# The Internet is one on-link /24, so the default route is never used.
move_run "Internet to Internet, peer behind NAT" m3 h 5003 inet 203.0.113.62/24 \
	203.0.113.1 203.0.113.62

# recreated NODE: succeeds when NODE measured the re-creation after its
# last move (GET /v1/status last_recreate_us, 0 until then).
recreated() {
	sys_greater "$(sys_status "$1" .last_recreate_us)" 0 2>/dev/null
}

name="route after address"
M1_NS=$(topo_ns m1)
ip -n "$M1_NS" -batch - <<-BATCH
	address flush dev eth1
	link set dev eth1 down
	link set dev eth0 up
	address add 192.0.2.2/26 dev eth0
BATCH
sleep 0.1
ip -n "$M1_NS" route replace default via 192.0.2.1 dev eth0
check "$name: m1 re-creates the tunnel" sys_wait_for 3 recreated m1
RECREATE_US=$(sys_status m1 .last_recreate_us)
echo "# $name: re-created $RECREATE_US us after the last netlink event"
check "$name: re-created within 80 ms" sys_less "$RECREATE_US" "$MAX_RECREATE_US"
check "$name: ping m1 -> r" sys_ping m1 "${VIP[r]}"
check "$name: ping r -> m1" sys_ping r "${VIP[m1]}"

check "daemons stop cleanly on SIGTERM" sys_stop_daemons
check "no sanitizer reports in daemon logs" sys_no_sanitizer_reports
sys_summary
