#!/usr/bin/env bash
# ntm-ssdpd in home mode against a real minidlna on a namespace LAN:
#
#   server 192.0.2.3 (minidlnad) --+
#   agent  192.0.2.2 (ntm-ssdpd) --+-- LAN "lan" (192.0.2.0/26)
#   other  192.0.2.4, 192.0.2.100 -+   (sends NOTIFYs that must be dropped)
#
# The agent's cache gets minidlna's USNs (admin API), a LocalSsdpSearch from
# a stand-in for ntm-dad gets answers with minidlna's LOCATION, NOTIFYs from
# outside lan_prefix or pointing into ignore_prefix are dropped, and
# minidlna's ssdp:byebye on SIGTERM removes its entries and sends
# LocalSsdpGone.
set -uo pipefail
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
source "$SYS_DIR/ssdpd_lib.sh"

ssdpd_require_tools minidlnad jq curl python3
sys_init || exit 1

readonly UUID=4d696e69-444c-164e-9d41-00000000c0de
readonly MS_USN="uuid:$UUID::urn:schemas-upnp-org:device:MediaServer:1"
readonly ROOT_USN="uuid:$UUID::upnp:rootdevice"
readonly LOCATION=http://192.0.2.3:8200/rootDesc.xml
readonly IPC="ipc://$WORK/ssdpd.ipc"

topo_lan lan
topo_host server
topo_attach server lan 192.0.2.3/26 eth0
topo_host agent
topo_attach agent lan 192.0.2.2/26 eth0
topo_host other
topo_attach other lan 192.0.2.4/26 eth0
ip -n "$(topo_ns other)" address add 192.0.2.100/26 dev eth0

# minidlna with a one-file media directory, confined to the server's veth.
mkdir -p "$WORK/media" "$WORK/minidlna-db" "$WORK/minidlna-log"
head -c 4096 /dev/zero >"$WORK/media/silence.wav"
cat >"$WORK/minidlna.conf" <<CONF
port=8200
network_interface=eth0
media_dir=A,$WORK/media
db_dir=$WORK/minidlna-db
log_dir=$WORK/minidlna-log
friendly_name=ntm test server
uuid=$UUID
inotify=no
notify_interval=30
CONF

ssdpd_conf_home "$WORK/ssdpd.conf" eth0 192.0.2.0/26 "$IPC"
check "home config is valid" "$SSDPD" -n -c "$WORK/ssdpd.conf"

topo_bg server "$WORK/minidlna.log" minidlnad -f "$WORK/minidlna.conf" \
	-P "$WORK/minidlna.pid" -d
MINIDLNA_PID=$TOPO_BG_PID
check "minidlna serves its description" sys_wait_for 10 \
	topo_exec server curl -sf -o /dev/null "$LOCATION"

check "ntm-ssdpd starts in home mode" ssdpd_start agent "$WORK/ssdpd.conf"
check "cache gets minidlna's MediaServer USN" sys_wait_for 10 ssdpd_cached agent "$MS_USN"
check "cache gets minidlna's root device USN" sys_wait_for 5 ssdpd_cached agent "$ROOT_USN"
check "cache entry has minidlna's LOCATION" sys_equal "$LOCATION" \
	"$(ssdpd_get agent /v1/cache ".entries[] | select(.usn == \"$MS_USN\") | .location")"
check "cache entry names minidlna as source" sys_equal 192.0.2.3 \
	"$(ssdpd_get agent /v1/cache ".entries[] | select(.usn == \"$MS_USN\") | .source" |
		cut -d: -f1)"
check "cache entry has max-age" sys_greater \
	"$(ssdpd_get agent /v1/cache ".entries[] | select(.usn == \"$MS_USN\") | .max_age")" 0
check "LAN searches were sent" sys_greater "$(ssdpd_counter agent .counters.lan_searches)" 3

# A stand-in for ntm-dad sends its requests over the ipc socket.
topo_exec agent "$SSDPIPC" search "$IPC" urn:schemas-upnp-org:device:MediaServer:1 2 \
	>"$WORK/search-ms.txt" 2>&1
check "LocalSsdpSearch answer has minidlna's LOCATION" \
	grep -qi "^  LOCATION: $LOCATION\$" "$WORK/search-ms.txt"
check "LocalSsdpSearch answer has the MediaServer USN" \
	grep -qi "^  USN: $MS_USN\$" "$WORK/search-ms.txt"
check "LocalSsdpSearch answer comes from minidlna" grep -q '^answer 192\.0\.2\.3:' \
	"$WORK/search-ms.txt"
check "MediaServer search leaves out other types" sys_equal 0 \
	"$(grep -c 'upnp:rootdevice' "$WORK/search-ms.txt")"
topo_exec agent "$SSDPIPC" search "$IPC" ssdp:all 2 >"$WORK/search-all.txt" 2>&1
check "ssdp:all search returns every USN" sys_greater \
	"$(grep -c '^answer ' "$WORK/search-all.txt")" 3

# NOTIFYs that must not reach the cache.
topo_exec other python3 "$SSDP_PROBE" notify --bind 192.0.2.100 --nts alive \
	--usn uuid:outside::upnp:rootdevice --nt upnp:rootdevice \
	--location http://192.0.2.100:8200/d.xml
topo_exec other python3 "$SSDP_PROBE" notify --bind 192.0.2.4 --nts alive \
	--usn uuid:looped::upnp:rootdevice --nt upnp:rootdevice \
	--location http://198.51.100.10:8200/rootDesc.xml
topo_exec other python3 "$SSDP_PROBE" notify --bind 192.0.2.4 --nts byebye \
	--usn "$ROOT_USN" --nt upnp:rootdevice
check "NOTIFY from outside lan_prefix is counted" sys_wait_for 5 \
	ssdpd_counter_above agent .dropped.outside_prefix 0
check "NOTIFY from outside lan_prefix is logged with its sender" \
	ssdpd_log_has agent '192\.0\.2\.100:1900: dropped SSDP from outside lan_prefix'
check "NOTIFY from outside lan_prefix is not cached" ssdpd_not_cached agent uuid:outside::upnp:rootdevice
check "NOTIFY with a VIP LOCATION is dropped" sys_wait_for 5 \
	ssdpd_counter_above agent .dropped.ignored_prefix 0
check "NOTIFY with a VIP LOCATION is not cached" ssdpd_not_cached agent uuid:looped::upnp:rootdevice
check "byebye from another host keeps minidlna's entry" ssdpd_cached agent "$ROOT_USN"

check "SIGHUP reloads the configuration" kill -HUP "$SSDPD_PID"
check "reload is logged" sys_wait_for 5 ssdpd_log_has agent 'configuration reloaded'

# minidlna sends ssdp:byebye for each USN when it stops.
topo_bg agent "$WORK/watch.txt" "$SSDPIPC" watch "$IPC" 20
WATCH_PID=$TOPO_BG_PID
sys_wait_for 5 file_has "$WORK/watch.txt" watching
sleep 0.5
kill -TERM "$MINIDLNA_PID"
sys_wait_pid "$MINIDLNA_PID" 10
check "byebye removes the MediaServer USN" sys_wait_for 5 ssdpd_not_cached agent "$MS_USN"
check "byebye removes the root device USN" sys_wait_for 5 ssdpd_not_cached agent "$ROOT_USN"
check "LocalSsdpGone reaches the client" sys_wait_for 5 file_has "$WORK/watch.txt" "gone $MS_USN"
kill "$WATCH_PID" 2>/dev/null

# Configuration errors name the file and line.
sed 's/^search_interval = 60$/search_interval = 5/' "$WORK/ssdpd.conf" >"$WORK/bad.conf"
LINE=$(grep -n '^search_interval' "$WORK/bad.conf" | cut -d: -f1)
check "out-of-range option names file:line" bash -c \
	"'$SSDPD' -n -c '$WORK/bad.conf' 2>&1 | grep -q '$WORK/bad.conf:$LINE: invalid value'"
sed 's/^mode = home$/mode = house/' "$WORK/ssdpd.conf" >"$WORK/bad-mode.conf"
check "invalid mode is rejected" bash -c \
	"! '$SSDPD' -n -c '$WORK/bad-mode.conf' 2>/dev/null"

kill -TERM "$SSDPD_PID"
check "SIGTERM stops ntm-ssdpd" sys_wait_pid "$SSDPD_PID" 5
check "no sanitizer reports in the logs" ssdpd_clean_logs
sys_summary
