#!/usr/bin/env bash
# ntm-ssdpd in player mode with a stand-in for ntm-noded:
#
#   player   192.0.2.2 (ntm-ssdpd, fake ntm-noded, gssdp-discover) --+
#   stranger 192.0.2.3 (another host's control point) ---------------+-- LAN
#
# The fake ntm-noded (ntm-ssdpipc fake-noded) answers the LocalTunnelRequest
# with "up" and every MSearchRequest with one SsdpAnswer at
# http://198.51.100.10:8200/rootDesc.xml from VIP 198.51.100.10.
# gssdp-discover on lo must find that server, answers must come from the
# VIP, NOTIFYs must appear on lo, the stranger must get nothing, and nothing
# of ntm-ssdpd's may leave through eth0.
set -uo pipefail
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
source "$SYS_DIR/ssdpd_lib.sh"

ssdpd_require_tools gssdp-discover tcpdump jq curl python3
sys_init || exit 1

readonly VIP=198.51.100.10
readonly LOCATION="http://$VIP:8200/rootDesc.xml"
readonly MEDIA_SERVER=urn:schemas-upnp-org:device:MediaServer:1
readonly AGENT=agent.home.example
readonly NODED_IPC="ipc://$WORK/noded.ipc"

topo_lan lan
topo_host player
topo_attach player lan 192.0.2.2/26 eth0
topo_host stranger
topo_attach stranger lan 192.0.2.3/26 eth0

# tcpdump_start NS IF FILE FILTER: captures into FILE, packet-buffered.
tcpdump_start() {
	topo_bg "$1" "$WORK/tcpdump-$2.log" tcpdump -i "$2" -n -U -w "$3" "$4" || return
	sys_wait_for 5 file_has "$WORK/tcpdump-$2.log" 'listening on'
}

# capture_count FILE FILTER: prints the number of packets in FILE that match.
capture_count() {
	tcpdump -r "$1" -n "$2" 2>/dev/null | wc -l
}

# capture_has FILE TEXT: succeeds when a captured payload contains TEXT.
capture_has() {
	tcpdump -r "$1" -n -A 2>/dev/null | grep -q -- "$2"
}

# fake_log_has PATTERN: succeeds when the fake ntm-noded logged PATTERN.
fake_log_has() {
	file_has "$WORK/fake-noded.log" "$1"
}

# cache_empty: succeeds when the player's cache contains no server.
cache_empty() {
	[[ $(ssdpd_get player /v1/cache .total) == 0 ]]
}

check "capture on eth0 starts" tcpdump_start player eth0 "$WORK/eth0.pcap" udp
check "capture on lo starts" tcpdump_start player lo "$WORK/lo.pcap" 'udp port 1900'

# Another SSDP program that shares port 1900, as minidlna and gupnp do.
topo_bg player "$WORK/holder.log" python3 "$SSDP_PROBE" hold-port --reuse --seconds 300
check "another program shares port 1900" \
	sys_wait_for 5 file_has "$WORK/holder.log" holding

topo_bg player "$WORK/fake-noded.log" "$SSDPIPC" fake-noded "$NODED_IPC" "$LOCATION" "$VIP" 30
FAKE_PID=$TOPO_BG_PID
sys_wait_for 5 fake_log_has listening

ssdpd_conf_player "$WORK/player.conf" "$NODED_IPC" "$AGENT"
check "player config is valid" "$SSDPD" -n -c "$WORK/player.conf"
check "ntm-ssdpd starts in player mode" ssdpd_start player "$WORK/player.conf"
check "LocalHello says role ssdpd" sys_wait_for 5 fake_log_has 'hello role=ssdpd'

topo_exec player gssdp-discover -i lo -t "$MEDIA_SERVER" -n 3 >"$WORK/gssdp.txt" 2>&1
check "first search asks for the tunnel to the agent" fake_log_has "tunnel_request peer=$AGENT"
check "search goes through the tunnel as MSearchRequest" \
	fake_log_has "msearch_request peer=$AGENT st=$MEDIA_SERVER mx=3"
check "gssdp-discover finds the server at its VIP LOCATION" \
	grep -q "Location: $LOCATION" "$WORK/gssdp.txt"

topo_exec player python3 "$SSDP_PROBE" search --bind 127.0.0.1 --st "$MEDIA_SERVER" \
	>"$WORK/probe-lo.txt" 2>&1
check "answer comes from the VIP port 1900" \
	grep -q "^answer $VIP:1900 $LOCATION\$" "$WORK/probe-lo.txt"
topo_exec player python3 "$SSDP_PROBE" search --bind 192.0.2.2 --if-addr 127.0.0.1 \
	--st ssdp:all >"$WORK/probe-eth.txt" 2>&1
check "application on the eth0 address gets the answer too" \
	grep -q "^answer $VIP:1900 $LOCATION\$" "$WORK/probe-eth.txt"
topo_exec player python3 "$SSDP_PROBE" search --bind 127.0.0.1 \
	--st urn:schemas-upnp-org:device:MediaRenderer:1 >"$WORK/probe-other.txt" 2>&1
check "search for another type gets no answer" sys_equal 0 \
	"$(grep -c '^answer' "$WORK/probe-other.txt")"

topo_exec stranger python3 "$SSDP_PROBE" search --bind 192.0.2.3 --st ssdp:all \
	>"$WORK/probe-stranger.txt" 2>&1
check "another host's search gets no answer" sys_equal 0 \
	"$(grep -c '^answer' "$WORK/probe-stranger.txt")"
check "another host's search is counted as not_local" \
	ssdpd_counter_above player .dropped.not_local 0

check "cache lists the server" ssdpd_cached player \
	"uuid:4d696e69-444c-164e-9d41-0000000000aa::$MEDIA_SERVER"
check "ssdp:alive from the VIP appears on lo" sys_wait_for 5 capture_has "$WORK/lo.pcap" \
	'NTS: ssdp:alive'
check "NOTIFY on lo is sent from the VIP" sys_greater \
	"$(capture_count "$WORK/lo.pcap" "src host $VIP and dst host 239.255.255.250")" 0
# max-age 30 s from the fake ntm-noded: ssdp:alive again after 10 s.
check "ssdp:alive repeats every max-age/3" sys_wait_for 15 \
	ssdpd_counter_above player .counters.notify_alive_sent 1

check "fake ntm-noded reports the tunnel down" kill -USR1 "$FAKE_PID"
check "tunnel loss empties the cache" sys_wait_for 5 cache_empty
check "tunnel loss sends ssdp:byebye on lo" sys_wait_for 5 capture_has "$WORK/lo.pcap" \
	'NTS: ssdp:byebye'

topo_exec player gssdp-discover -i lo -t "$MEDIA_SERVER" -n 2 >"$WORK/gssdp-again.txt" 2>&1
check "next search builds the tunnel again" sys_equal 2 \
	"$(grep -c "tunnel_request peer=$AGENT" "$WORK/fake-noded.log")"
check "and finds the server again" grep -q "Location: $LOCATION" "$WORK/gssdp-again.txt"

check "nothing from ntm-ssdpd leaves through eth0" sys_equal 0 \
	"$(capture_count "$WORK/eth0.pcap" "src host 192.0.2.2 or src host $VIP")"
check "the capture on eth0 saw the stranger's search" sys_greater \
	"$(capture_count "$WORK/eth0.pcap" 'src host 192.0.2.3')" 0

kill -TERM "$SSDPD_PID"
check "SIGTERM stops ntm-ssdpd" sys_wait_pid "$SSDPD_PID" 5

# Without CAP_NET_ADMIN and CAP_NET_RAW no answer could be sent from a VIP.
topo_exec player timeout 10 setpriv --bounding-set=-net_admin,-net_raw "$SSDPD" -f \
	-c "$WORK/player.conf" >"$WORK/nocap.log" 2>&1
check "missing capability exits with status 1" sys_equal 1 "$?"
check "missing capability is named" grep -q 'needs CAP_NET_ADMIN or CAP_NET_RAW' \
	"$WORK/nocap.log"

# Another program has bound port 1900 without address reuse: ntm-ssdpd
# cannot share the port, and exits with an error that names the cause.
topo_host lonely
topo_bg lonely "$WORK/lonely-holder.log" python3 "$SSDP_PROBE" hold-port --seconds 60
sys_wait_for 5 file_has "$WORK/lonely-holder.log" holding
topo_exec lonely "$SSDPD" -f -c "$WORK/player.conf" >"$WORK/lonely.log" 2>&1
check "bind conflict exits with status 1" sys_equal 1 "$?"
check "bind conflict names the port and the cause" \
	grep -q 'cannot bind UDP 0.0.0.0:1900: Address already in use; another program has bound port 1900 without SO_REUSEADDR' \
	"$WORK/lonely.log"
check "no sanitizer reports in the logs" ssdpd_clean_logs
sys_summary
