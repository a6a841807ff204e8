#!/usr/bin/env bash
# The main job end to end, with real daemons and a real media server: a
# player node behind one NAT discovers, browses and downloads from minidlna
# in a home LAN behind another NAT, through the DLNA Agent.
#
#   Internet 203.0.113.0/24: dc .1
#   home LAN 192.0.2.0/26 behind NAT 203.0.113.10:
#       agent 192.0.2.2 (ntm-noded, ntm-ssdpd home, ntm-dad), server 192.0.2.3 (minidlna)
#   foreign LAN 192.0.2.64/26 behind NAT 203.0.113.20:
#       player 192.0.2.66 (ntm-noded, ntm-ssdpd player; gssdp-discover, curl)
set -uo pipefail
# shellcheck source=tests/system/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/system/dlna_lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/dlna_lib.sh"

dlna_start

# Device information and browsing, as a control point does.
check "description through the VIP" \
	topo_exec player curl -sf -o "$WORK/desc.xml" --max-time 10 "$LOCATION"
no_real_address() {
	! grep -q '192\.0\.2\.3' "$1"
}
check "description names no real address" no_real_address "$WORK/desc.xml"
# minidlna's description has relative URLs only; any absolute one must name
# the VIP.
vip_urls_only() {
	! grep -oE 'http://[0-9]+\.[0-9.]+' "$1" | grep -qvx "http://$VIP"
}
check "description's absolute URLs name the VIP" vip_urls_only "$WORK/desc.xml"

browse() {
	local id=$1 out=$2
	topo_exec player curl -sf --max-time 10 -o "$out" \
		-H 'Content-Type: text/xml; charset="utf-8"' \
		-H "SOAPACTION: \"$CDS#Browse\"" \
		--data "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body><u:Browse xmlns:u=\"$CDS\"><ObjectID>$id</ObjectID><BrowseFlag>BrowseDirectChildren</BrowseFlag><Filter>*</Filter><StartingIndex>0</StartingIndex><RequestedCount>100</RequestedCount><SortCriteria></SortCriteria></u:Browse></s:Body></s:Envelope>" \
		"http://$VIP:8200/ctl/ContentDir"
}
check "Browse of the root" browse 0 "$WORK/root.xml"
check "Browse result names no real address" no_real_address "$WORK/root.xml"
# minidlna's "All Music" style containers: find the tone among all items.
check "Browse of all music" browse 1\$4 "$WORK/music.xml"
MEDIA_URL=$(grep -o "http://$VIP:8200/MediaItems/[^&<\"]*" "$WORK/music.xml" | head -n 1)
echo "# media URL: ${MEDIA_URL:-none}"
check "Browse result has a media URL on the VIP" test -n "$MEDIA_URL"

check "media download is byte-identical" bash -c "
	ip netns exec $(topo_ns player) curl -sf --max-time 20 -o '$WORK/tone.got' '$MEDIA_URL' &&
	cmp -s '$WORK/tone.got' '$WORK/media/Music/tone.mp3'"
range_ok() {
	topo_exec player curl -sf --max-time 10 -r 100-199 -o "$WORK/range.got" "$MEDIA_URL" &&
		cmp -s "$WORK/range.got" <(tail -c +101 "$WORK/media/Music/tone.mp3" | head -c 100)
}
check "Range request returns the right bytes" range_ok

# Only discovered servers: the Agent refuses other home addresses.
check "a home address that is not a server is refused" bash -c "
	! ip netns exec $(topo_ns player) curl -sf --max-time 5 -o /dev/null 'http://198.51.100.9:8200/'"

# A real player: VLC plays the media URL from the Browse result through the
# VIP to a null output. VLC refuses to run as root, so it runs as nobody.
mkdir -p "$WORK/vlc-home"
chmod 777 "$WORK/vlc-home"
vlc_plays() {
	topo_exec player setpriv --reuid=65534 --regid=65534 --clear-groups \
		env HOME="$WORK/vlc-home" timeout 30 cvlc --play-and-exit -A dummy -V dummy \
		-vv "$MEDIA_URL" >"$WORK/vlc.log" 2>&1
	# VLC's log, not its exit status: it found MPEG audio in the stream and
	# read the stream to its end.
	grep -q 'packetizer debug: MPGA channels' "$WORK/vlc.log" &&
		grep -q 'end of stream' "$WORK/vlc.log"
}
if command -v cvlc >/dev/null; then
	check "cvlc plays the media URL through the VIP" vlc_plays
fi

# The player moves to another network during a large download through the
# Agent; the download completes byte-identical.
# 24 MiB of noise as a WAV file: large, and it does not compress.
head -c $((24 * 1024 * 1024)) /dev/urandom >"$WORK/big.raw"
ffmpeg -loglevel error -f s16le -ar 44100 -ac 2 -i "$WORK/big.raw" "$WORK/media/Music/big.wav"
rm -f "$WORK/big.raw"
BIG_SIZE=$(stat -c %s "$WORK/media/Music/big.wav")
topo_home_network cafe 203.0.113.30 192.0.2.128/26
CAFE_GW=$TOPO_GATEWAY
# item_url FILE TITLE: the res URL of the item with that title in a Browse
# response (the DIDL-Lite Result is XML-escaped inside the SOAP body).
item_url() {
	python3 - "$1" "$2" <<'PY'
import html, re, sys
body = open(sys.argv[1], encoding="utf-8", errors="replace").read()
m = re.search(r"<Result>(.*)</Result>", body, re.S)
didl = html.unescape(m.group(1)) if m else ""
for item in re.findall(r"<item.*?</item>", didl, re.S):
    if re.search(r"<dc:title>%s</dc:title>" % re.escape(sys.argv[2]), item):
        res = re.search(r"<res[^>]*>([^<]+)</res>", item)
        if res:
            print(res.group(1))
            break
PY
}
find_big() {
	browse 1\$4 "$WORK/music2.xml" && BIG_URL=$(item_url "$WORK/music2.xml" big) &&
		[[ -n $BIG_URL ]]
}
# minidlna indexes new files at start: restart it with an empty database.
kill "$(cat "$WORK/minidlna.pid")" 2>/dev/null
sleep 1
rm -f "$WORK/minidlna/files.db"
topo_bg server "$WORK/minidlna2.log" minidlnad -f "$WORK/minidlna.conf" \
	-P "$WORK/minidlna.pid" -d
check "the large file is browsable" sys_wait_for 20 find_big
echo "# large file: ${BIG_URL:-none} ($BIG_SIZE bytes)"
topo_bg player "$WORK/curl-big.log" curl -sf --max-time 60 --limit-rate 4M \
	-o "$WORK/big.got" "${BIG_URL:-http://$VIP:8200/none}"
CURL_PID=$TOPO_BG_PID
sleep 1.5
stream_listed() {
	[[ $(sys_admin agent 47883 GET /v1/streams | jq '.streams | length') -ge 1 ]]
}
check "the Agent lists the open stream" stream_listed
topo_move player eth0 cafe 192.0.2.130/26 "$CAFE_GW"
check "the download continues across the move" sys_wait_pid "$CURL_PID" 60
check "the download is byte-identical" cmp -s "$WORK/big.got" "$WORK/media/Music/big.wav"

# A node the Agent's [dad] allow does not name gets nothing: it is enrolled
# in the same domain, but the Agent allows only the player.
name=intruder
topo_host intruder
topo_attach intruder away 192.0.2.67/26 eth0
topo_default_route intruder "$AWAY_GW"
sys_node intruder "intruder.$DOMAIN" || not_ok "$name: node starts"
sed "s/player\.$DOMAIN/intruder.$DOMAIN/" "$WORK/ssdpd-player.conf" >"$WORK/ssdpd-intruder.conf"
topo_bg intruder "$WORK/ssdpd-intruder.log" "$BUILD/ssdp-proxy/ntm-ssdpd" -f \
	-c "$WORK/ssdpd-intruder.conf"
check "$name registers" sys_wait_registered intruder
topo_exec intruder gssdp-discover -i eth0 -t "$MS" -n 4 >"$WORK/intruder.txt" 2>&1
check "$name: discovery finds no server" bash -c "! grep -q '198\.51\.100' '$WORK/intruder.txt'"
check "$name: a request to the server's VIP is refused" bash -c "
	! ip netns exec $(topo_ns intruder) curl -sf --max-time 5 -o /dev/null '$LOCATION'"
sys_admin agent 47883 GET /v1/servers | jq -c '.servers[]' | sed 's/^/# /'
check "the Agent lists the server's friendly name" bash -c \
	"[[ \$(ip netns exec $(topo_ns agent) curl -sf -H 'Authorization: Bearer $(cat "$WORK/admin.token")' \
	http://127.0.0.1:47883/v1/servers | jq -r '.servers[0].friendly_name') == 'home media' ]]"
dad_metrics_ok() {
	sys_admin agent 47883 GET /metrics >"$WORK/dad.metrics" &&
		grep -q '^ntm_dad_proxied_requests_total [1-9]' "$WORK/dad.metrics" &&
		promtool check metrics <"$WORK/dad.metrics"
}
ssdpd_metrics_ok() {
	sys_admin "$1" 47884 GET /metrics >"$WORK/ssdpd-$1.metrics" &&
		grep -q '^ntm_ssdpd_cache_entries [1-9]' "$WORK/ssdpd-$1.metrics" &&
		promtool check metrics <"$WORK/ssdpd-$1.metrics"
}
if command -v promtool >/dev/null; then
	check "ntm-dad's /metrics counts requests and passes promtool" dad_metrics_ok
	check "ntm-ssdpd's /metrics (home) passes promtool" ssdpd_metrics_ok agent
	check "ntm-ssdpd's /metrics (player) passes promtool" ssdpd_metrics_ok player
fi
check "daemons stop cleanly on SIGTERM" sys_stop_daemons
check "no sanitizer reports in daemon logs" sys_no_sanitizer_reports
sys_summary
