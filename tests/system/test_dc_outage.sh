#!/usr/bin/env bash
# DC outage: tunnels carry traffic while the DC is down, and the nodes
# register again when it comes back. A TCP transfer from b (behind NAT) to
# a (global) runs while the DC process is killed with SIGKILL and, after a
# few seconds, restarted with the same configuration and database. The
# transfer must arrive byte-identical, both nodes must register again, and
# the DC must list them online. A third node then builds a new tunnel, which
# needs the restarted DC.
set -uo pipefail
# shellcheck source=tests/system/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

readonly DOMAIN=a.example
# 40 MiB at 50 Mbit/s take about 7 s: the outage of 4 s fits inside.
readonly RATE=50mbit
readonly FILE_MIB=40
readonly OUTAGE_S=4
readonly KILL_AFTER_BYTES=$((5 * 1024 * 1024))

sys_init
topo_host dc
topo_internet_attach dc 203.0.113.20/24 eth0
topo_host a
topo_internet_attach a 203.0.113.50/24 eth0
topo_host c
topo_internet_attach c 203.0.113.51/24 eth0
topo_home_network home 203.0.113.10 192.0.2.0/26
topo_host b
topo_attach b home 192.0.2.2/26 eth0
topo_default_route b 192.0.2.1
topo_rate b eth0 "$RATE"

sys_dc dc 203.0.113.20 "$DOMAIN" 198.51.100.0/24
declare -A VIP=() REGISTRATIONS=()
for node in a b c; do
	sys_node "$node" "$node.$DOMAIN"
	check "$node registers" sys_wait_registered "$node"
	VIP[$node]=$(sys_vip "$node")
done
check "ping b -> a before the outage" sys_ping b "${VIP[a]}"
for node in a b; do
	REGISTRATIONS[$node]=$(sys_status "$node" .registrations)
done
sys_make_file "$WORK/payload" "$FILE_MIB"

# received_at_least FILE BYTES
received_at_least() {
	(($(sys_file_size "$1") >= $2))
}

# registered_again NODE: the node registered more often than before the outage.
registered_again() {
	(($(sys_status "$1" .registrations) > REGISTRATIONS[$1]))
}

# dc_online FQDN: succeeds when the DC's record of FQDN is online.
dc_online() {
	[[ $(sys_dc_record "$1" online) == true ]]
}

OUT=$WORK/received
sys_tcp_receive a "${VIP[a]}" 5001 "$OUT"
sys_tcp_send_bg b "${VIP[a]}" 5001 "$WORK/payload"
check "transfer starts" sys_wait_for 20 received_at_least "$OUT" "$KILL_AFTER_BYTES"

check "DC is killed" sys_dc_kill KILL
AT_KILL=$(sys_file_size "$OUT")
check "ping a -> b while the DC is down" sys_ping a "${VIP[b]}"
sleep "$OUTAGE_S"
AT_RESTART=$(sys_file_size "$OUT")
echo "# received $AT_KILL bytes at the kill and $AT_RESTART at the restart"
check "transfer continues while the DC is down" sys_greater "$AT_RESTART" "$AT_KILL"

check "DC restarts" sys_dc_start
check "$FILE_MIB MiB arrive byte-identical" sys_tcp_finish "$WORK/payload" "$OUT" 60

# Nodes notice a restarted DC at their next keep-alive (every 5 s here),
# which it rejects with REGISTRATION_REQUIRED, or after three missed ones.
for node in a b; do
	check "$node registers again" sys_wait_for 20 registered_again "$node"
	check "DC lists $node online" sys_wait_for 5 dc_online "$node.$DOMAIN"
done
echo "# DC records online: $(sys_admin "$DC_NS" 47880 GET '/v1/records?online=true' |
	jq -c '[.records[].fqdn]')"

check "ping b -> a after the restart" sys_ping b "${VIP[a]}"
check "ping a -> b after the restart" sys_ping a "${VIP[b]}"
check "new tunnel c -> b after the restart" sys_ping c "${VIP[b]}"
check "new tunnel c -> a after the restart" sys_ping c "${VIP[a]}"

check "daemons stop cleanly on SIGTERM" sys_stop_daemons
check "no sanitizer reports in daemon logs" sys_no_sanitizer_reports
sys_summary
