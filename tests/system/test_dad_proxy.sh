#!/usr/bin/env bash
# System test of the DLNA Agent's translating proxy against a real minidlna.
#
# Two network namespaces share one LAN. "server" runs minidlna on
# 192.0.2.2:8200 and gerbera on 192.0.2.2:49152, one server address with two
# ports. "agent" has the Agent's LAN address 192.0.2.10. On its loopback it
# has the VIP 198.51.100.3, where the proxy harness listens on both ports,
# and the player's VIP 198.51.100.9, from which curl acts as the player.
# minidlna binds 0.0.0.0:8200, so it needs a namespace apart from the VIP's
# port 8200.
# The media (a 2 s tone, a 1 s video, a picture) is generated with ffmpeg.
#
# Checks against minidlna: the description, Browse of the root and of every
# folder (each URL on the VIP and fetchable), byte-identical downloads, a
# Range request, HEAD, an HTTP/1.0 player, and a SUBSCRIBE whose CALLBACK
# reaches the server replaced. Against gerbera: a description with URLBase,
# and a GENA event delivered to the player's callback. The events come from
# gerbera, because minidlna 1.3.0 (Debian 12) connects to a subscriber's
# callback but never sends the NOTIFY: strace shows the socket missing from
# the write set of its pselect6 loop. Needs root, minidlna, gerbera, ffmpeg,
# curl and python3; takes about 10 s.
set -u

# shellcheck source=tests/system/lib.sh
source "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

readonly HARNESS=$BUILD/dad/dad_proxy_harness
readonly SERVER=192.0.2.2
readonly LAN=192.0.2.10
readonly VIP=198.51.100.3
readonly PLAYER=198.51.100.9
readonly PORT=8200
readonly GERBERA_PORT=49152
readonly CALLBACK_PORT=49200
readonly BROWSE_MAX=40

# dad_init: work directory, the two namespaces with their addresses, and media.
# The EXIT trap that removes the work directory is set before topo_init,
# which keeps earlier traps and runs them after its own cleanup.
dad_init() {
	local tool

	for tool in minidlnad gerbera ffmpeg curl python3 sha256sum; do
		command -v "$tool" >/dev/null && continue
		echo "test_dad_proxy: $tool not found; install minidlna, gerbera, ffmpeg, curl and python3" >&2
		return 1
	done
	[[ -x $HARNESS ]] || {
		echo "test_dad_proxy: $HARNESS missing; build the project with NTM_TESTS=ON" >&2
		return 1
	}
	WORK=$(mktemp -d /tmp/ntm-dad-proxy.XXXXXX) || return
	trap 'rm -rf -- "$WORK"' EXIT
	topo_init || return
	topo_lan home || return
	topo_host server || return
	topo_host agent || return
	topo_attach server home "$SERVER/24" eth0 || return
	topo_attach agent home "$LAN/24" eth0 || return
	topo_exec agent ip addr add "$VIP/32" dev lo || return
	topo_exec agent ip addr add "$PLAYER/32" dev lo || return
	make_media
}

# make_media: a 2 s tone, a 1 s video and a small picture.
make_media() {
	mkdir -p "$WORK/media/Music" "$WORK/media/Video" "$WORK/db" "$WORK/log" || return
	ffmpeg -loglevel error -f lavfi -i "sine=frequency=440:duration=2" \
		-metadata title="Grüße Tone" -c:a libmp3lame -b:a 64k "$WORK/media/Music/tone.mp3" &&
		ffmpeg -loglevel error -f lavfi -i "testsrc=size=160x120:rate=10:duration=1" \
			-f lavfi -i "sine=frequency=660:duration=1" -c:v libx264 -preset ultrafast \
			-pix_fmt yuv420p -c:a aac -b:a 32k -shortest "$WORK/media/Video/clip.mp4" &&
		ffmpeg -loglevel error -f lavfi -i "testsrc=size=64x48" -frames:v 1 \
			"$WORK/media/Video/picture.jpg"
}

start_minidlna() {
	cat >"$WORK/minidlna.conf" <<CONF
port=$PORT
network_interface=eth0
media_dir=A,$WORK/media/Music
media_dir=V,$WORK/media/Video
media_dir=P,$WORK/media/Video
db_dir=$WORK/db
log_dir=$WORK/log
friendly_name=NTM test server
inotify=no
notify_interval=60
CONF
	topo_bg server "$WORK/minidlna.log" minidlnad -f "$WORK/minidlna.conf" -P "$WORK/minidlna.pid" -d
	sys_wait_for 10 topo_exec agent curl -sf -o /dev/null "http://$SERVER:$PORT/rootDesc.xml"
}

start_gerbera() {
	mkdir -p "$WORK/gerbera" || return
	topo_bg server "$WORK/gerbera.log" gerbera -m "$WORK/gerbera" -f gerbera -e eth0 \
		-p "$GERBERA_PORT" -a "$WORK/media"
	sys_wait_for 20 topo_exec agent curl -sf -o /dev/null \
		"http://$SERVER:$GERBERA_PORT/description.xml"
}

start_harness() {
	topo_bg agent "$WORK/harness.log" "$HARNESS" -l "$VIP:$PORT" -l "$VIP:$GERBERA_PORT" \
		-r "$SERVER" -a "$LAN" -v
	HARNESS_PID=$TOPO_BG_PID
	sys_wait_for 5 grep -q '^gena_port ' "$WORK/harness.log"
}

# player CURL_ARGS...: curl as the player, from its own address.
player() {
	topo_exec agent curl -sS --max-time 10 --interface "$PLAYER" "$@"
}

browse_body() {
	printf '%s' '<?xml version="1.0" encoding="utf-8"?>' \
		'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" ' \
		's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>' \
		'<u:Browse xmlns:u="urn:schemas-upnp-org:service:ContentDirectory:1">' \
		"<ObjectID>$1</ObjectID><BrowseFlag>BrowseDirectChildren</BrowseFlag>" \
		'<Filter>*</Filter><StartingIndex>0</StartingIndex><RequestedCount>0</RequestedCount>' \
		'<SortCriteria></SortCriteria></u:Browse></s:Body></s:Envelope>'
}

# browse ID OUT: SOAP Browse of object ID through the proxy, the whole
# response (head and body) to OUT.
browse() {
	player -i -o "$2" -H 'Content-Type: text/xml; charset="utf-8"' \
		-H 'SOAPACTION: "urn:schemas-upnp-org:service:ContentDirectory:1#Browse"' \
		--data-binary "$(browse_body "$1")" "http://$VIP:$PORT/ctl/ContentDir"
}

# urls FILE: every absolute http URL in FILE, one a line.
urls() {
	grep -aoE 'https?://[0-9.]+(:[0-9]+)?/[^<&" ]*' "$1" | sort -u
}

# no_real_address FILE: FILE never names the server's real address.
no_real_address() {
	if grep -aq "$SERVER" "$1"; then
		echo "# $1 names $SERVER:" >&2
		grep -ao ".\{0,40\}$SERVER.\{0,40\}" "$1" | head -n 5 >&2
		return 1
	fi
}

# content_length_matches FILE: the Content-Length of the response in FILE
# (head and body, as curl -i writes it) is the size of its body.
content_length_matches() {
	local length head
	length=$(grep -ai '^content-length:' "$1" | head -n 1 | tr -dc '0-9')
	head=$(LC_ALL=C awk 'BEGIN { RS = "\r\n\r\n" } { print length($0) + 4; exit }' "$1")
	sys_equal "$length" "$(($(stat -c %s "$1") - head))"
}

check_description() {
	player -i -o "$WORK/desc.txt" "http://$VIP:$PORT/rootDesc.xml" || return
	grep -aq '^HTTP/1.1 200' "$WORK/desc.txt" &&
		grep -aq '<friendlyName>NTM test server</friendlyName>' "$WORK/desc.txt" &&
		no_real_address "$WORK/desc.txt" && content_length_matches "$WORK/desc.txt"
}

check_browse_root() {
	browse 0 "$WORK/browse-0.txt" || return
	grep -aq '^HTTP/1.1 200' "$WORK/browse-0.txt" &&
		grep -aq 'container id=' "$WORK/browse-0.txt" &&
		no_real_address "$WORK/browse-0.txt" && content_length_matches "$WORK/browse-0.txt"
}

# browse_all: Browse of every folder below the root, breadth first; the
# responses go to browse-N.txt and every URL in them to all-urls.txt.
browse_all() {
	local -a queue=(0)
	local id n=0

	: >"$WORK/all-urls.txt"
	while ((${#queue[@]} > 0 && n < BROWSE_MAX)); do
		id=${queue[0]}
		queue=("${queue[@]:1}")
		n=$((n + 1))
		browse "$id" "$WORK/browse-$n.txt" || return
		no_real_address "$WORK/browse-$n.txt" || return
		content_length_matches "$WORK/browse-$n.txt" || return
		urls "$WORK/browse-$n.txt" >>"$WORK/all-urls.txt"
		mapfile -t -O "${#queue[@]}" queue < <(grep -aoE 'container id="[^"]+"' \
			"$WORK/browse-$n.txt" | sed -E 's/container id="([^"]+)"/\1/')
	done
	sort -u -o "$WORK/all-urls.txt" "$WORK/all-urls.txt"
	[[ -s $WORK/all-urls.txt ]]
}

# every_url_on_vip: each URL the responses name points at the VIP and can be
# fetched through the proxy.
every_url_on_vip() {
	local url status

	[[ -s $WORK/all-urls.txt ]] || { echo "# the Browse responses named no URL" >&2; return 1; }
	while read -r url; do
		if [[ $url != "http://$VIP:$PORT/"* ]]; then
			echo "# URL not on the VIP: $url" >&2
			return 1
		fi
		status=$(player -o /dev/null -w '%{http_code}' "$url") || return
		if [[ $status != 200 ]]; then
			echo "# $url responded $status" >&2
			return 1
		fi
	done <"$WORK/all-urls.txt"
}

# media_url EXT: the first MediaItems URL ending in .EXT.
media_url() {
	grep -m 1 "/MediaItems/[^/]*\.$1\$" "$WORK/all-urls.txt"
}

# download_identical EXT SOURCE: the file behind the .EXT item downloads
# byte for byte.
download_identical() {
	local url
	url=$(media_url "$1") || { echo "# no .$1 item in the Browse responses" >&2; return 1; }
	player -o "$WORK/download.$1" "$url" || return
	sys_same_file "$2" "$WORK/download.$1"
}

check_range() {
	local url
	url=$(media_url mp3) || return
	player -D "$WORK/range.head" -o "$WORK/range.body" -r 100-1099 "$url" || return
	dd if="$WORK/media/Music/tone.mp3" of="$WORK/range.expected" bs=1 skip=100 count=1000 \
		status=none || return
	grep -aq '^HTTP/1.1 206' "$WORK/range.head" &&
		grep -aiq '^Content-Range: bytes 100-1099/' "$WORK/range.head" &&
		sys_same_file "$WORK/range.expected" "$WORK/range.body"
}

check_head() {
	local url size
	url=$(media_url mp4) || return
	size=$(stat -c %s "$WORK/media/Video/clip.mp4")
	player -I -o "$WORK/head.txt" "$url" || return
	grep -aq '^HTTP/1.1 200' "$WORK/head.txt" &&
		sys_equal "$size" "$(grep -ai '^content-length:' "$WORK/head.txt" | tr -dc '0-9')"
}

check_http10() {
	local url
	url=$(media_url mp3) || return
	player -0 -D "$WORK/http10.head" -o "$WORK/http10.body" "$url" || return
	! grep -aiq '^transfer-encoding' "$WORK/http10.head" &&
		sys_same_file "$WORK/media/Music/tone.mp3" "$WORK/http10.body"
}

# subscribe PORT PATH OUT: SUBSCRIBE through the proxy with the player's
# callback; prints the SID of a 200 response.
subscribe() {
	sys_gena_subscribe agent "http://$PLAYER:$CALLBACK_PORT/events/cd" "http://$VIP:$1$2" "$3" \
		--interface "$PLAYER"
}

# unsubscribe PORT PATH SID
unsubscribe() {
	sys_gena_unsubscribe agent "http://$VIP:$1$2" "$3" --interface "$PLAYER"
}

# check_minidlna_subscribe: minidlna accepts the SUBSCRIBE, and the
# CALLBACK it stored is the GENA relay's on the Agent's LAN address.
check_minidlna_subscribe() {
	local sid gena_port
	sid=$(subscribe "$PORT" /evt/ContentDir "$WORK/subscribe-minidlna.txt") || return
	gena_port=$(awk '$1 == "gena_port" { print $2 }' "$WORK/harness.log")
	grep -aq "Callback 'http://$LAN:$gena_port/gena/[0-9a-f]*'" "$WORK/minidlna.log" || {
		echo "# minidlna did not get a CALLBACK on $LAN:$gena_port" >&2
		return 1
	}
	unsubscribe "$PORT" /evt/ContentDir "$sid"
}

check_gerbera_description() {
	player -i -o "$WORK/gerbera-desc.txt" "http://$VIP:$GERBERA_PORT/description.xml" || return
	grep -aq '^HTTP/1.1 200' "$WORK/gerbera-desc.txt" &&
		grep -aq "<URLBase>http://$VIP:$GERBERA_PORT/</URLBase>" "$WORK/gerbera-desc.txt" &&
		no_real_address "$WORK/gerbera-desc.txt" && content_length_matches "$WORK/gerbera-desc.txt"
}

# check_event: gerbera's initial NOTIFY must reach the player's listener
# through the GENA relay, sent from the server's VIP, with the server's SID.
check_event() {
	local sid
	sid=$(subscribe "$GERBERA_PORT" /upnp/event/cds "$WORK/subscribe-gerbera.txt") || return
	if ! sys_wait_for 5 grep -q "^SID: $sid" "$WORK/notify.log" 2>/dev/null; then
		echo "# no NOTIFY with SID $sid reached the player" >&2
		return 1
	fi
	grep -q "^from $VIP\$" "$WORK/notify.log" && grep -q '^NOTIFY /events/cd$' "$WORK/notify.log" &&
		grep -q 'propertyset' "$WORK/notify.log" && no_real_address "$WORK/notify.log" || return
	unsubscribe "$GERBERA_PORT" /upnp/event/cds "$sid"
}

# stop_harness: SIGTERM, then the counters it prints on the way out.
stop_harness() {
	kill -TERM "$HARNESS_PID" 2>/dev/null
	sys_wait_pid "$HARNESS_PID" 10 >/dev/null
}

counter() {
	awk -v name="$1" '$1 == name { print $2 }' "$WORK/harness.log"
}

main() {
	local started=$SECONDS

	dad_init || { echo "not ok - setup" && exit 1; }
	check "minidlna starts on $SERVER:$PORT" start_minidlna
	check "gerbera starts on $SERVER:$GERBERA_PORT" start_gerbera
	check "harness starts on $VIP:$PORT" start_harness
	check "player listener starts" sys_gena_listener agent "$PLAYER" "$CALLBACK_PORT" \
		"$WORK/notify.log"
	check "description on the VIP, Content-Length recomputed" check_description
	check "Browse of the root names no real address" check_browse_root
	check "Browse of every folder names no real address" browse_all
	check "every URL in the responses is on the VIP and fetchable" every_url_on_vip
	check "mp3 downloads byte-identical" download_identical mp3 "$WORK/media/Music/tone.mp3"
	check "mp4 downloads byte-identical" download_identical mp4 "$WORK/media/Video/clip.mp4"
	check "jpg downloads byte-identical" download_identical jpg "$WORK/media/Video/picture.jpg"
	check "Range request gets 206 with the right bytes" check_range
	check "HEAD gets the file size without a body" check_head
	check "HTTP/1.0 player gets no chunked coding" check_http10
	check "minidlna gets the GENA relay's CALLBACK" check_minidlna_subscribe
	check "gerbera description has URLBase on the VIP" check_gerbera_description
	check "GENA event reaches the player's callback" check_event
	check "harness stops on SIGTERM" stop_harness
	check "responses were translated" sys_greater "$(counter proxy.bodies_rewritten)" 0
	check "event was delivered" sys_greater "$(counter gena.notify_delivered)" 0
	check "no server failure counted" sys_equal 0 "$(counter proxy.upstream_failed)"
	check "test ran under 60 s" sys_greater $((60 - (SECONDS - started))) 0
	sys_summary
}

main "$@"
