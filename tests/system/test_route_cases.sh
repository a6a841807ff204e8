#!/usr/bin/env bash
# Route cases of the tunnel set-up (docs/protocol.md, section 9), each with
# its own pair of node agents so that every tunnel is new:
#   g1 -> g2  both nodes global                      ROUTE_CASE_DIRECT
#   g1 -> h1  global node opens to a node behind NAT ROUTE_CASE_NAT_SIDE_OPENS
#   h2 -> g2  node behind NAT opens to a global node ROUTE_CASE_DIRECT
#   h1 -> h2  two hosts on one home LAN              ROUTE_CASE_SAME_NAT
#   f1 -> h1  two home networks, port-preserving NAT ROUTE_CASE_TWO_NATS
# For each pair: ping both ways between the VIPs, the route case and the
# tunnel endpoint, and 5 MiB over TCP each way, byte-identical.
set -uo pipefail
# shellcheck source=tests/system/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

readonly DOMAIN=a.example
# Values of the RouteCase enum in proto/control.proto.
readonly CASE_DIRECT=1 CASE_NAT_SIDE_OPENS=2 CASE_SAME_NAT=3 CASE_TWO_NATS=4

sys_init
topo_host dc
topo_internet_attach dc 203.0.113.20/24 eth0
topo_host g1
topo_internet_attach g1 203.0.113.50/24 eth0
topo_host g2
topo_internet_attach g2 203.0.113.51/24 eth0
# Two home networks behind masquerading NAT routers. Without "random" the
# kernel keeps the source port when it is free, so port 47830 stays 47830.
topo_home_network home 203.0.113.10 192.0.2.0/26
topo_host h1
topo_attach h1 home 192.0.2.2/26 eth0
topo_default_route h1 192.0.2.1
topo_host h2
topo_attach h2 home 192.0.2.3/26 eth0
topo_default_route h2 192.0.2.1
topo_home_network foreign 203.0.113.11 192.0.2.64/26
topo_host f1
topo_attach f1 foreign 192.0.2.66/26 eth0
topo_default_route f1 192.0.2.65

sys_dc dc 203.0.113.20 "$DOMAIN" 198.51.100.0/24
declare -A VIP=()
for node in g1 g2 h1 h2 f1; do
	sys_node "$node" "$node.$DOMAIN"
	check "$node registers" sys_wait_registered "$node"
	VIP[$node]=$(sys_vip "$node")
done
check "h1 is seen behind NAT" sys_equal true "$(sys_status h1 .behind_nat)"
check "g1 is seen without NAT" sys_equal false "$(sys_status g1 .behind_nat)"

# 5 MiB cross a namespace tunnel in well under a second, so a transfer that
# takes 10 s has failed.
sys_make_file "$WORK/payload" 5

# route_case NAME FROM TO ROUTE_CASE: FROM sends the first packet to TO's VIP,
# which builds the tunnel, then the checks above run in both directions.
route_case() {
	local name=$1 from=$2 to=$3 route_case=$4

	check "$name: ping $from -> $to" sys_ping "$from" "${VIP[$to]}"
	check "$name: ping $to -> $from" sys_ping "$to" "${VIP[$from]}"
	check "$name: $from sees route case $route_case" \
		sys_equal "$route_case" "$(sys_tunnel "$from" "$to.$DOMAIN" route_case)"
	check "$name: $to sees route case $route_case" \
		sys_equal "$route_case" "$(sys_tunnel "$to" "$from.$DOMAIN" route_case)"
	check "$name: 5 MiB TCP $from -> $to" \
		sys_tcp_transfer "$from" "$to" "${VIP[$to]}" "$WORK/payload" 10
	check "$name: 5 MiB TCP $to -> $from" \
		sys_tcp_transfer "$to" "$from" "${VIP[$from]}" "$WORK/payload" 10
	echo "# $name: $from: $(sys_tunnel "$from" "$to.$DOMAIN" | jq -c '{state, path, endpoint, setup_us}')"
}

route_case "both global" g1 g2 "$CASE_DIRECT"
check "both global: g1 sends to g2's address" \
	sys_equal 203.0.113.51:47830 "$(sys_tunnel g1 g2.$DOMAIN endpoint)"

route_case "global opens to NAT" g1 h1 "$CASE_NAT_SIDE_OPENS"
check "global opens to NAT: g1 sends to home's NAT mapping" \
	sys_equal 203.0.113.10:47830 "$(sys_tunnel g1 h1.$DOMAIN endpoint)"

route_case "NAT opens to global" h2 g2 "$CASE_DIRECT"
check "NAT opens to global: h2 sends to g2's address" \
	sys_equal 203.0.113.51:47830 "$(sys_tunnel h2 g2.$DOMAIN endpoint)"

# The private path: each node must send to the other's LAN address, not to
# the NAT's public address (no hairpinning).
route_case "same NAT" h1 h2 "$CASE_SAME_NAT"
check "same NAT: h1 sends to h2's LAN address" \
	sys_equal 192.0.2.3:47830 "$(sys_tunnel h1 h2.$DOMAIN endpoint)"
check "same NAT: h2 sends to h1's LAN address" \
	sys_equal 192.0.2.2:47830 "$(sys_tunnel h2 h1.$DOMAIN endpoint)"

# Both NATs keep port 47830, so the punched path ends at the other NAT's
# public address and that port.
route_case "two NATs" f1 h1 "$CASE_TWO_NATS"
check "two NATs: f1 sends to home's NAT mapping" \
	sys_equal 203.0.113.10:47830 "$(sys_tunnel f1 h1.$DOMAIN endpoint)"
check "two NATs: h1 sends to foreign's NAT mapping" \
	sys_equal 203.0.113.11:47830 "$(sys_tunnel h1 f1.$DOMAIN endpoint)"
check "two NATs: f1 reports the punched path" \
	sys_equal punched "$(sys_tunnel f1 h1.$DOMAIN path)"

check "daemons stop cleanly on SIGTERM" sys_stop_daemons
check "no sanitizer reports in daemon logs" sys_no_sanitizer_reports
sys_summary
