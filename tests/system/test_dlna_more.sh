#!/usr/bin/env bash
# More of the DLNA path end to end, with real daemons and real media servers.
# It covers two servers in one home behind the Agent, GENA eventing through
# the tunnel, a restart of the Agent host's ntm-noded, an Agent restart that
# keeps every server's VIP, and the Agent on a media server's own host.
#
#   Internet 203.0.113.0/24: dc .1
#   home LAN 192.0.2.0/26 behind NAT 203.0.113.10:
#       agent 192.0.2.2 (ntm-noded, ntm-ssdpd home, ntm-dad)
#       server 192.0.2.3 (minidlna, port 8200)
#       server2 192.0.2.4 (gerbera, port 49152)
#   second home LAN 192.0.2.128/26 behind NAT 203.0.113.30:
#       combo 192.0.2.130 (minidlna, port 8200, with ntm-noded, ntm-ssdpd
#       home and ntm-dad, whose lan_address is minidlna's own address)
#   foreign LAN 192.0.2.64/26 behind NAT 203.0.113.20:
#       player 192.0.2.66 (ntm-noded, ntm-ssdpd player for the agent)
#       player2 192.0.2.67 (ntm-noded, ntm-ssdpd player for combo)
#
# Needs root, minidlna, gerbera, gssdp-tools, gupnp-tools, ffmpeg, curl,
# jq and python3. It takes about 50 s when every check passes. When every
# wait for events, the VIP pool and discovery times out, the sum of the waits
# comes to about 4 minutes.
set -uo pipefail
# shellcheck source=tests/system/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/system/ssdpd_lib.sh
source "$SYS_DIR/ssdpd_lib.sh"

for tool in minidlnad gerbera gssdp-discover gupnp-event-dumper ffmpeg curl jq python3; do
	command -v "$tool" >/dev/null || { echo "test_dlna_more: $tool not found" >&2; exit 1; }
done
for daemon in dcd/ntm-dcd nodeagent/ntm-noded ssdp-proxy/ntm-ssdpd dad/ntm-dad; do
	[[ -x $BUILD/$daemon ]] || { echo "test_dlna_more: $BUILD/$daemon missing; build first" >&2; exit 1; }
done

readonly DOMAIN=home.example
readonly MS=urn:schemas-upnp-org:device:MediaServer:1
readonly CDS=urn:schemas-upnp-org:service:ContentDirectory:1
readonly SERVER=192.0.2.3
readonly SERVER2=192.0.2.4
readonly COMBO=192.0.2.130
readonly GERBERA_PORT=49152
readonly CALLBACK_PORT=49200
readonly DAD_PORT=47883
readonly VIP_RE='198\.51\.100\.[0-9]+'
STARTED=$SECONDS

sys_init || exit 1

# --- Topology and media servers ---------------------------------------------

# lan_host NAME LAN ADDR GATEWAY: a host with ADDR/26 on LAN's bridge.
lan_host() {
	topo_host "$1" && topo_attach "$1" "$2" "$3/26" eth0 && topo_default_route "$1" "$4"
}

build_topology() {
	local home_gw home2_gw away_gw

	topo_host dc && topo_internet_attach dc 203.0.113.1/24 eth0 &&
		topo_home_network home 203.0.113.10 192.0.2.0/26 || return
	home_gw=$TOPO_GATEWAY
	topo_home_network home2 203.0.113.30 192.0.2.128/26 || return
	home2_gw=$TOPO_GATEWAY
	topo_home_network away 203.0.113.20 192.0.2.64/26 || return
	away_gw=$TOPO_GATEWAY
	lan_host agent home 192.0.2.2 "$home_gw" &&
		lan_host server home "$SERVER" "$home_gw" &&
		lan_host server2 home "$SERVER2" "$home_gw" &&
		lan_host combo home2 "$COMBO" "$home2_gw" &&
		lan_host player away 192.0.2.66 "$away_gw" &&
		lan_host player2 away 192.0.2.67 "$away_gw"
}

# make_media: a 2 s tone and a 2 s video for the servers.
make_media() {
	mkdir -p "$WORK/media/Music" "$WORK/media/Video" &&
		ffmpeg -loglevel error -f lavfi -i "sine=frequency=440:duration=2" \
			"$WORK/media/Music/tone.mp3" &&
		ffmpeg -loglevel error -f lavfi -i "testsrc=size=160x120:rate=10:duration=2" \
			-pix_fmt yuv420p "$WORK/media/Video/clip.mp4"
}

require "topology builds" build_topology
require "media files are made" make_media

# minidlna NS NAME: starts minidlna on port 8200 of NS's eth0, with its
# files under WORK/NAME.
minidlna() {
	mkdir -p "$WORK/$2" || return
	cat >"$WORK/$2.conf" <<CONF
port=8200
network_interface=eth0
media_dir=$WORK/media
db_dir=$WORK/$2
log_dir=$WORK/$2
friendly_name=$2 media
inotify=no
notify_interval=30
CONF
	topo_bg "$1" "$WORK/$2.log" minidlnad -f "$WORK/$2.conf" -P "$WORK/$2.pid" -d
}
minidlna server minidlna
minidlna combo minidlna-combo
mkdir -p "$WORK/gerbera"
topo_bg server2 "$WORK/gerbera.log" gerbera -m "$WORK/gerbera" -f gerbera -e eth0 \
	-p "$GERBERA_PORT" -a "$WORK/media"

# --- NTM nodes and the DLNA daemons ------------------------------------------

sys_dc dc 203.0.113.1 "$DOMAIN" 198.51.100.0/24 || exit 1
for node in agent player combo player2; do
	sys_node "$node" "$node.$DOMAIN" || exit 1
done
for node in agent player combo player2; do
	check "$node registers" sys_wait_registered "$node"
done

# dad_conf NODE LAN_ADDR ALLOW: writes WORK/dad-NODE.conf for the Agent on NODE.
dad_conf() {
	cat >"$WORK/dad-$1.conf" <<CONF
[dad]
lan_interface = eth0
lan_address = $2
tun_interface = ntm0
vip_count = 4
state_file = $WORK/dad-servers-$1.json
allow = $3
noded_ipc = ipc://$WORK/$1.$DOMAIN.ipc
ssdpd_ipc = ipc://$WORK/ssdpd-$1.ipc
log_level = debug
[admin]
listen = 127.0.0.1:$DAD_PORT
token_file = $WORK/admin.token
CONF
}

# dad_start NODE: starts ntm-dad on NODE, logging to dad-NODE.log, and waits
# for its admin API. Sets DAD_PID.
dad_start() {
	topo_bg "$1" "$WORK/dad-$1.log" "$BUILD/dad/ntm-dad" -f -c "$WORK/dad-$1.conf" || return
	DAD_PID=$TOPO_BG_PID
	sys_wait_http "$1" "$DAD_PORT"
}

# pool_granted NODE: the Agent on NODE logged its VIP pool grant.
pool_granted() {
	grep -q "VIP pool of" "$WORK/dad-$1.log"
}

ssdpd_conf_home "$WORK/ssdpd-home-agent.conf" eth0 192.0.2.0/26 "ipc://$WORK/ssdpd-agent.ipc"
ssdpd_conf_home "$WORK/ssdpd-home-combo.conf" eth0 192.0.2.128/26 "ipc://$WORK/ssdpd-combo.ipc"
ssdpd_conf_player "$WORK/ssdpd-player.conf" "ipc://$WORK/player.$DOMAIN.ipc" "agent.$DOMAIN"
ssdpd_conf_player "$WORK/ssdpd-player2.conf" "ipc://$WORK/player2.$DOMAIN.ipc" "combo.$DOMAIN"
dad_conf agent 192.0.2.2 "player.$DOMAIN"
dad_conf combo "$COMBO" "player2.$DOMAIN"
check "ntm-ssdpd home starts on the agent" ssdpd_start agent "$WORK/ssdpd-home-agent.conf"
check "ntm-ssdpd home starts on combo" ssdpd_start combo "$WORK/ssdpd-home-combo.conf"
check "ntm-ssdpd player starts on the player" ssdpd_start player "$WORK/ssdpd-player.conf"
PLAYER_SSDPD_PID=$SSDPD_PID
check "ntm-ssdpd player starts on player2" ssdpd_start player2 "$WORK/ssdpd-player2.conf"
check "ntm-dad starts on combo" dad_start combo
check "ntm-dad starts on the agent" dad_start agent
AGENT_DAD_PID=$DAD_PID
check "the Agent gets its VIP pool" sys_wait_for 10 pool_granted agent
# redirect_installed NODE: the nftables table of ntm-dad on NODE redirects
# TCP from ntm0 to the proxy port.
redirect_installed() {
	topo_exec "$1" nft list table ip ntm_dad 2>/dev/null | grep -q 'iifname "ntm0" .* redirect to :47890'
}
check "nftables redirects the pool VIPs to the proxy" sys_wait_for 5 redirect_installed agent
topo_exec agent nft list table ip ntm_dad | sed 's/^/# /'
check "the Agent on combo gets its VIP pool" sys_wait_for 10 pool_granted combo

# description_up NS URL: NS fetches URL, a server's description.
description_up() {
	topo_exec "$1" curl -sf --max-time 2 -o /dev/null "$2"
}
check "minidlna answers on $SERVER:8200" \
	sys_wait_for 10 description_up agent "http://$SERVER:8200/rootDesc.xml"
check "gerbera answers on $SERVER2:$GERBERA_PORT" \
	sys_wait_for 20 description_up agent "http://$SERVER2:$GERBERA_PORT/description.xml"
check "minidlna answers on $COMBO:8200" \
	sys_wait_for 10 description_up combo "http://$COMBO:8200/rootDesc.xml"

# --- Two servers in one home, each on its own VIP ----------------------------

# discover NS OUT PORT...: runs gssdp-discover in NS for MediaServer:1 and
# succeeds when the output names a VIP URL on each PORT.
discover() {
	local ns=$1 out=$2 port
	shift 2

	topo_exec "$ns" gssdp-discover -i eth0 -t "$MS" -n 4 >"$out" 2>&1
	for port in "$@"; do
		grep -Eq "http://$VIP_RE:$port/" "$out" || return
	done
}

# location OUT PORT: prints the first VIP URL on PORT in gssdp-discover's OUT.
location() {
	grep -Eo "http://$VIP_RE:$2/[^ ]*" "$1" | head -n 1
}

# url_host URL: prints the host of an http URL.
url_host() {
	local host=${1#http://}
	printf '%s\n' "${host%%[:/]*}"
}

check "gssdp-discover finds minidlna and gerbera on VIPs" \
	sys_wait_for 30 discover player "$WORK/discover.txt" 8200 "$GERBERA_PORT"
MINIDLNA_URL=$(location "$WORK/discover.txt" 8200)
GERBERA_URL=$(location "$WORK/discover.txt" "$GERBERA_PORT")
MVIP=$(url_host "$MINIDLNA_URL")
GVIP=$(url_host "$GERBERA_URL")
echo "# minidlna: ${MINIDLNA_URL:-none}, gerbera: ${GERBERA_URL:-none}"
different_vips() {
	[[ -n $MVIP && -n $GVIP && $MVIP != "$GVIP" ]]
}
check "minidlna and gerbera have different VIPs" different_vips

# servers_json NODE: prints GET /v1/servers of the Agent on NODE.
servers_json() {
	sys_admin "$1" "$DAD_PORT" GET /v1/servers
}

# server_vip NODE REAL: prints the VIP that the Agent on NODE gave to the
# server at REAL.
server_vip() {
	servers_json "$1" | jq -r --arg real "$2" '.servers[] | select(.real_address == $real) | .vip'
}

check "GET /v1/servers lists minidlna on its VIP" sys_equal "$MVIP" "$(server_vip agent "$SERVER")"
check "GET /v1/servers lists gerbera on its VIP" sys_equal "$GVIP" "$(server_vip agent "$SERVER2")"
check "GET /v1/servers lists two servers" sys_equal 2 "$(servers_json agent | jq '.servers | length')"

# no_real_address FILE ADDR: FILE exists and never names ADDR.
no_real_address() {
	[[ -s $1 ]] || { echo "# $1 is missing or empty" >&2; return 1; }
	! grep -aq "${2//./\\.}" "$1"
}
check "gerbera's description through its VIP" topo_exec player curl -sf --max-time 10 \
	-o "$WORK/gerbera-desc.xml" "$GERBERA_URL"
check "gerbera's description names no real address" \
	no_real_address "$WORK/gerbera-desc.xml" "$SERVER2"
check "gerbera's URLBase names its VIP" \
	grep -q "<URLBase>http://$GVIP:$GERBERA_PORT/</URLBase>" "$WORK/gerbera-desc.xml"

# --- GENA through the tunnel ---------------------------------------------------

# event_url: prints the absolute eventSubURL of gerbera's ContentDirectory,
# read from its description on the VIP.
event_url() {
	python3 - "$WORK/gerbera-desc.xml" "$GERBERA_URL" "$CDS" <<'PY'
import sys, urllib.parse, xml.etree.ElementTree as ET
ns = {"d": "urn:schemas-upnp-org:device-1-0"}
root = ET.parse(sys.argv[1]).getroot()
base = root.findtext("d:URLBase", default=sys.argv[2], namespaces=ns)
for service in root.iter("{urn:schemas-upnp-org:device-1-0}service"):
    if service.findtext("d:serviceType", namespaces=ns) == sys.argv[3]:
        print(urllib.parse.urljoin(base, service.findtext("d:eventSubURL", namespaces=ns)))
        break
PY
}

# event_arrived: the listener logged a NOTIFY with the SID of the
# subscription.
event_arrived() {
	grep -q "^SID: $SID" "$WORK/notify.log" 2>/dev/null
}

PLAYER_VIP=$(sys_vip player)
check "player's event listener starts on $PLAYER_VIP" \
	sys_gena_listener player "$PLAYER_VIP" "$CALLBACK_PORT" "$WORK/notify.log"
EVENT_URL=$(event_url)
echo "# gerbera's ContentDirectory events: ${EVENT_URL:-none}"
check "gerbera's event URL is on its VIP" \
	grep -Eq "^http://$GVIP:$GERBERA_PORT/" <<<"$EVENT_URL"
SID=$(sys_gena_subscribe player "http://$PLAYER_VIP:$CALLBACK_PORT/events/cd" "$EVENT_URL" \
	"$WORK/subscribe.txt")
check "SUBSCRIBE through the VIP gets a SID" test -n "$SID"
# UDA 2.0, section 4.2.1: the publisher sends the initial event message
# right after it accepted the subscription.
check "gerbera's initial event reaches the player" sys_wait_for 10 event_arrived
check "the event comes from gerbera's VIP" file_has "$WORK/notify.log" "^from $GVIP\$"
check "the event keeps the callback's path" file_has "$WORK/notify.log" '^NOTIFY /events/cd$'
check "the event carries a property set" file_has "$WORK/notify.log" 'propertyset'
check "the event names no real address" no_real_address "$WORK/notify.log" "$SERVER2"
check "UNSUBSCRIBE through the VIP" sys_gena_unsubscribe player "$EVENT_URL" "$SID"

# gupnp-event-dumper (gupnp-tools 0.12, gupnp 1.6), a real GENA control
# point that needs no display: it discovers the servers through ntm-ssdpd,
# subscribes to every service and prints one line for each variable of each
# event, "TIME|UDN|SERVICE_ID|VARIABLE|VALUE". It has no options and runs
# until SIGINT. gupnp listens for events on 127.0.0.1 and eth0's address,
# never on ntm0, and names eth0's address in its CALLBACK: the player's node
# forwards the Agent's NOTIFYs to it on a GENA callback route.
GERBERA_UDN=$(servers_json agent | jq -r --arg real "$SERVER2" \
	'.servers[] | select(.real_address == $real) | .udn')
dumper_got_event() {
	grep -q "|$GERBERA_UDN|urn:upnp-org:serviceId:ContentDirectory|SystemUpdateID|" \
		"$WORK/dumper.log"
}
topo_bg player "$WORK/dumper.log" gupnp-event-dumper
DUMPER_PID=$TOPO_BG_PID
check "gupnp-event-dumper gets gerbera's ContentDirectory event" \
	sys_wait_for 15 dumper_got_event
route_in_place() {
	topo_exec player nft list map ip ntm_noded gena | grep -q "$GVIP . "
}
check "the player's node has a GENA callback route from gerbera's VIP" route_in_place
kill -INT "$DUMPER_PID" 2>/dev/null
sys_wait_pid "$DUMPER_PID" 5 >/dev/null 2>&1

sys_admin agent "$DAD_PORT" GET /v1/servers | jq -c '.servers[]' | sed 's/^/# servers: /'
sys_admin agent "$DAD_PORT" GET /v1/players | jq -c . | sed 's/^/# players: /'
sys_admin agent "$DAD_PORT" GET /v1/proxy | jq -c . | sed 's/^/# proxy: /'

# --- ntm-noded restart on the Agent's host -----------------------------------

# A new ntm-noded process learns the "dad" client only from its LocalHello,
# and adds the pool VIPs to ntm0 only when it handles a VipPoolRequest, so
# ntm-dad sends both again on the new connection. The player's ntm-ssdpd
# restarts as well, so that it has no cached search responses and the new
# discovery goes through the tunnel. The player's node notices that the
# Agent's node lost the tunnel only after three tunnel keep-alive intervals
# of silence (30 s with the default [node] tunnel_keepalive of 10 s), hence
# the long wait for the discovery.

# browse NS VIP ID OUT: SOAP Browse of object ID on minidlna at VIP, from NS.
browse() {
	[[ -n $2 ]] || { echo "# no VIP to browse" >&2; return 1; }
	topo_exec "$1" curl -sf --max-time 10 -o "$4" \
		-H 'Content-Type: text/xml; charset="utf-8"' \
		-H "SOAPACTION: \"$CDS#Browse\"" \
		--data "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body><u:Browse xmlns:u=\"$CDS\"><ObjectID>$3</ObjectID><BrowseFlag>BrowseDirectChildren</BrowseFlag><Filter>*</Filter><StartingIndex>0</StartingIndex><RequestedCount>100</RequestedCount><SortCriteria></SortCriteria></u:Browse></s:Body></s:Envelope>" \
		"http://$2:8200/ctl/ContentDir"
}

# stop_pid PID: sends SIGTERM to PID and waits up to 10 s for a clean exit.
stop_pid() {
	kill -TERM "$1" 2>/dev/null || return
	sys_wait_pid "$1" 10 2>/dev/null
}

# log_count FILE PATTERN: prints how many lines of FILE match PATTERN.
log_count() {
	local count

	count=$(grep -c -- "$2" "$1" 2>/dev/null)
	echo "${count:-0}"
}

# pool_on_tun: each pool VIP of the Agent's node is an address of ntm0 on
# the agent.
pool_on_tun() {
	local addrs vip

	[[ -n $POOL_VIPS ]] || return
	addrs=$(topo_exec agent ip -4 -o addr show dev ntm0 2>/dev/null) || return
	for vip in $POOL_VIPS; do
		grep -q " $vip/" <<<"$addrs" || return
	done
}

pool_not_on_tun() {
	! pool_on_tun
}

# dad_hello_again: the Agent's ntm-noded logged more LocalHellos of ntm-dad
# than HELLOS.
dad_hello_again() {
	(($(log_count "$WORK/agent.$DOMAIN.log" 'local IPC: dad connected') > HELLOS))
}

# download_through_vip URL FILE: the player downloads URL, byte-identical
# to FILE.
download_through_vip() {
	[[ -n $1 ]] || { echo "# no URL to download" >&2; return 1; }
	topo_exec player curl -sf --max-time 20 -o "$WORK/vip-download" "$1" &&
		sys_same_file "$2" "$WORK/vip-download"
}

check "Browse of all music through minidlna's VIP" browse player "$MVIP" 1\$4 "$WORK/music.xml"
MEDIA_URL=$(grep -o "http://$MVIP:8200/MediaItems/[^&<\"]*" "$WORK/music.xml" 2>/dev/null |
	head -n 1)
echo "# media URL on minidlna: ${MEDIA_URL:-none}"
POOL_VIPS=$(sys_dc_record "agent.$DOMAIN" pool_vips | jq -r '.[]' 2>/dev/null)
echo "# the Agent's pool VIPs: ${POOL_VIPS//$'\n'/ }"
check "the pool VIPs are addresses of ntm0" pool_on_tun
check "ntm-ssdpd player stops before the ntm-noded restart" stop_pid "$PLAYER_SSDPD_PID"
check "the Agent's ntm-noded stops on SIGTERM" stop_pid "${SYS_NODE_PID[agent]}"
check "the pool VIPs leave ntm0 with ntm-noded" pool_not_on_tun
HELLOS=$(log_count "$WORK/agent.$DOMAIN.log" 'local IPC: dad connected')
NODED_STARTED=$SECONDS
# start_agent_noded: starts the Agent's ntm-noded again with its configuration.
start_agent_noded() {
	topo_bg agent "$WORK/agent.$DOMAIN.log" "$BUILD/nodeagent/ntm-noded" -f \
		-c "$WORK/agent.$DOMAIN.conf"
	SYS_NODE_PID[agent]=$TOPO_BG_PID
}
start_agent_noded
check "the Agent's ntm-noded starts again" sys_wait_http agent 47881
check "the Agent's ntm-noded registers again" sys_wait_registered agent
check "ntm-dad sends LocalHello to the new ntm-noded" sys_wait_for 20 dad_hello_again
check "the pool VIPs are addresses of ntm0 again" sys_wait_for 20 pool_on_tun
check "ntm-dad gets the same VIP pool again" \
	sys_wait_for 5 file_has "$WORK/dad-agent.log" "granted again, unchanged"
check "ntm-dad keeps its nftables redirect" redirect_installed agent
check "ntm-dad installs the redirect only once" \
	sys_equal 1 "$(log_count "$WORK/dad-agent.log" 'nftables: TCP to the')"
check "ntm-ssdpd player starts after the ntm-noded restart" \
	ssdpd_start player "$WORK/ssdpd-player.conf"
PLAYER_SSDPD_PID=$SSDPD_PID
check "a discovery after the ntm-noded restart finds both servers" \
	sys_wait_for 60 discover player "$WORK/discover-noded.txt" 8200 "$GERBERA_PORT"
echo "# discovery ended $((SECONDS - NODED_STARTED)) s after the ntm-noded restart"
check "download through minidlna's VIP after the ntm-noded restart" \
	download_through_vip "$MEDIA_URL" "$WORK/media/Music/tone.mp3"

# --- The Agent's node away for longer, ntm-ssdpd player kept ---------------

# With the Agent's node gone, the player's node hears nothing for 30 s, and
# the DC, which marked the Agent offline after its offline_after of 20 s,
# responds to the new Direction Request with PEER_OFFLINE. ntm-noded reports
# it to the player's ntm-ssdpd, which sends ssdp:byebye for the servers, and
# ntm-noded tries the DLNA Agent's tunnel again every 30 s. Once the Agent's node is back, a
# discovery finds the servers again with no packet sent to a VIP.

# agent_tunnel_failed: the player's node lists its tunnel to the Agent as failed.
agent_tunnel_failed() {
	sys_admin player 47881 GET /v1/tunnels |
		jq -e --arg a "agent.$DOMAIN" '.tunnels[] | select(.peer_fqdn == $a and .state == "failed")' \
			>/dev/null
}
check "the Agent's ntm-noded stops again" stop_pid "${SYS_NODE_PID[agent]}"
OUTAGE_STARTED=$SECONDS
check "the player's node gives the Agent's tunnel up" sys_wait_for 60 agent_tunnel_failed
check "ntm-ssdpd player withdraws the servers" \
	sys_wait_for 5 file_has "$WORK/ssdpd-player.log" "tunnel gone"
echo "# the player gave the tunnel up $((SECONDS - OUTAGE_STARTED)) s after the stop"
NODED_STARTED=$SECONDS
start_agent_noded
check "the Agent's ntm-noded starts after the outage" sys_wait_http agent 47881
check "a discovery after the outage finds both servers" \
	sys_wait_for 60 discover player "$WORK/discover-outage.txt" 8200 "$GERBERA_PORT"
echo "# discovery ended $((SECONDS - NODED_STARTED)) s after the Agent's node came back"

# --- Agent restart keeps each server's VIP -----------------------------------

# The player's ntm-ssdpd stops first, because while it runs it responds to
# searches from its cache and repeats its own searches on its own schedule.
# Started again after the Agent, with an empty cache, it sends the new
# discovery through the tunnel.
check "ntm-ssdpd player stops on SIGTERM" stop_pid "$PLAYER_SSDPD_PID"
check "ntm-dad stops on SIGTERM" stop_pid "$AGENT_DAD_PID"
# no_table NS TABLE: namespace NS has no nftables table "ip TABLE".
no_table() {
	! topo_exec "$1" nft list table ip "$2" >/dev/null 2>&1
}
check "ntm-dad removes its nftables table" no_table agent ntm_dad
mv "$WORK/dad-agent.log" "$WORK/dad-agent-first.log"
check "ntm-dad starts again" dad_start agent
check "the restarted Agent gets its VIP pool" sys_wait_for 10 pool_granted agent
check "the state file keeps minidlna's VIP" sys_equal "$MVIP" "$(server_vip agent "$SERVER")"
check "the state file keeps gerbera's VIP" sys_equal "$GVIP" "$(server_vip agent "$SERVER2")"
check "ntm-ssdpd player starts again" ssdpd_start player "$WORK/ssdpd-player.conf"
check "a new discovery finds both servers" \
	sys_wait_for 30 discover player "$WORK/discover2.txt" 8200 "$GERBERA_PORT"
check "minidlna keeps its VIP" sys_equal "$MVIP" "$(url_host "$(location "$WORK/discover2.txt" 8200)")"
check "gerbera keeps its VIP" \
	sys_equal "$GVIP" "$(url_host "$(location "$WORK/discover2.txt" "$GERBERA_PORT")")"
check "minidlna's description through its VIP after the restart" \
	topo_exec player curl -sf --max-time 10 -o /dev/null "$MINIDLNA_URL"
check "gerbera's description through its VIP after the restart" \
	topo_exec player curl -sf --max-time 10 -o /dev/null "$GERBERA_URL"

# --- The Agent on the media server's own host ------------------------------------

check "gssdp-discover on player2 finds minidlna on combo" \
	sys_wait_for 30 discover player2 "$WORK/discover-combo.txt" 8200
COMBO_URL=$(location "$WORK/discover-combo.txt" 8200)
CVIP=$(url_host "$COMBO_URL")
echo "# minidlna on combo: ${COMBO_URL:-none}"
if [[ -z $COMBO_URL ]]; then
	sys_admin combo "$SSDPD_ADMIN_PORT" GET /v1/status | jq -c '{dropped, counters}' |
		sed 's/^/# ntm-ssdpd on combo: /'
fi

# fetch URL OUT: player2 fetches URL into OUT.
fetch() {
	[[ -n $1 ]] || { echo "# no URL to fetch" >&2; return 1; }
	topo_exec player2 curl -sf --max-time 20 -o "$2" "$1"
}

# download_identical URL FILE: player2 downloads URL, byte-identical to FILE.
download_identical() {
	fetch "$1" "$WORK/combo-download" && sys_same_file "$2" "$WORK/combo-download"
}

check "description through combo's VIP" fetch "$COMBO_URL" "$WORK/combo-desc.xml"
check "combo's description names no real address" \
	no_real_address "$WORK/combo-desc.xml" "$COMBO"
check "Browse of all music through combo's VIP" browse player2 "$CVIP" 1\$4 "$WORK/combo-music.xml"
check "combo's Browse result names no real address" \
	no_real_address "$WORK/combo-music.xml" "$COMBO"
COMBO_MEDIA=$(grep -o "http://$CVIP:8200/MediaItems/[^&<\"]*" "$WORK/combo-music.xml" 2>/dev/null |
	head -n 1)
echo "# media URL on combo: ${COMBO_MEDIA:-none}"
check "download through the Agent on combo is byte-identical" \
	download_identical "$COMBO_MEDIA" "$WORK/media/Music/tone.mp3"

check "daemons stop cleanly on SIGTERM" sys_stop_daemons
check "the player's ntm-noded removes its GENA callback routes" no_table player ntm_noded
check "no sanitizer reports in daemon logs" sys_no_sanitizer_reports
check "test ran under 300 s" sys_less $((SECONDS - STARTED)) 300
sys_summary
