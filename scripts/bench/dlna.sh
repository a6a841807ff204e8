# shellcheck shell=bash
# The DLNA stage of scripts/bench.sh. It measures the steps of Table I of
# the NTMobile remote-DLNA prototype from Meijo University (Shimizu, Suzuki,
# Naito and Watanabe, IPSJ Journal, 2014) on the whole chain, with a real
# media server. It also measures media throughput through the DLNA Agent.
#
# Hosts added to the topology of lib.sh and relay.sh (tests/netns/topo.sh):
#
#   home  192.0.2.0/26 behind home-gw 203.0.113.10 (NAT):
#         agent .4 (ntm-noded, ntm-ssdpd home, ntm-dad), dms .5 (minidlna)
#   natp1 192.0.2.64/28 behind natp1-gw 203.0.113.21 (port-preserving NAT):
#         player .67 (ntm-noded, ntm-ssdpd player, dlna_client.py, curl)
#
# The player and the Agent are behind different NATs, so the DC directs
# their tunnel as route case d: the relay session at once, hole punching
# alongside.

readonly DLNA_HOME_GATEWAY=192.0.2.1
readonly DLNA_AGENT_LAN=192.0.2.4
readonly DLNA_DMS_LAN=192.0.2.5
readonly DLNA_LAN_PREFIX=192.0.2.0/26
readonly DLNA_PLAYER_ADDR=192.0.2.67/28
readonly DLNA_PLAYER_GATEWAY=192.0.2.65
readonly MINIDLNA_PORT=8200
readonly SSDPD_ADMIN_PORT=47884
readonly DAD_ADMIN_PORT=47883
# TCP port of the plain HTTP server on the Agent node's own VIP.
readonly PLAIN_HTTP_PORT=8080
readonly MEDIA_SERVER_TYPE=urn:schemas-upnp-org:device:MediaServer:1
readonly CONTENT_DIRECTORY=urn:schemas-upnp-org:service:ContentDirectory:1
# minidlna's container of all music items (ObjectID "1$4").
readonly MINIDLNA_ALL_MUSIC="1\$4"
# MX of the player application's M-SEARCH, in seconds, and how many
# searches it sends at most, one after the other, before it gives up.
readonly MSEARCH_MX=1
readonly MSEARCH_MAX=5
# Downloads of the media file through the Agent and from the plain server,
# taken in turn.
readonly DLNA_DOWNLOAD_RUNS=3
readonly DLNA_CLIENT=$BENCH_DIR/dlna_client.py
# nftables table of the benchmark's own counter in home-gw.
readonly DLNA_NFT_TABLE=ntm_bench_dlna

# Results that are not timing samples, read in report.sh.
DLNA_ROUTE_CASE=
DLNA_LOCATION=
DLNA_MEDIA_URL=
DLNA_MEDIA_BYTES=
DLNA_PATH_BEFORE=
DLNA_PATH_AFTER=
# The "via" endpoint of each repetition's first "tunnel up" log line of the
# player: relayed (the relay server's endpoint) or punched (the Agent's
# NAT).
DLNA_FIRST_PATHS=()
# Repetitions in which the Agent's home cache contained the media server
# before the search (warm), of all repetitions run.
DLNA_WARM_CACHE=0
DLNA_RUNS=0
# peer_vip of the entries in the player's /v1/tunnels that are failed
# look-ups, not tunnels.
DLNA_FAILED_LOOKUPS=()
# Outputs of count_tunnels and record_tunnel_up.
TUNNEL_COUNT=
TUNNEL_UP_US=
# Counters before the current repetition: dropped.unknown_sender of the
# Agent's node agent, which runs through all repetitions, the packets
# counted by install_nat_counter, and relay_unbound_count.
AGENT_UNKNOWN_SENDER=0
NAT_DROPS_BEFORE=0
RELAY_UNBOUND_BEFORE=0
# PIDs of the player's ntm-ssdpd and of the plain HTTP server.
PLAYER_SSDPD_PID=
PLAIN_HTTP_PID=

# Usage: dlna_topology: adds the Agent and the media server to the home LAN
# and the player to the natp1 LAN.
dlna_topology() {
	topo_host agent && topo_attach agent home "$DLNA_AGENT_LAN/26" eth0 || return
	topo_default_route agent "$DLNA_HOME_GATEWAY" || return
	topo_host dms && topo_attach dms home "$DLNA_DMS_LAN/26" eth0 || return
	topo_default_route dms "$DLNA_HOME_GATEWAY" || return
	topo_host player && topo_attach player natp1 "$DLNA_PLAYER_ADDR" eth0 || return
	topo_default_route player "$DLNA_PLAYER_GATEWAY"
}

# Adds a counter of new UDP flows that arrive at home-gw from the player's
# NAT, natp1-gw, for the router itself. topo_nat drops every such flow
# (tests/netns/topo.sh). From the player's NAT they are packets to the
# Agent's NAT mapping that came before the Agent's own PathProbe to the
# player opened it. This chain runs before topo_nat's filter chain and only
# counts.
install_nat_counter() {
	topo_exec home-gw nft -f - <<-EOF
		add table inet $DLNA_NFT_TABLE
		add chain inet $DLNA_NFT_TABLE count_in { type filter hook input priority -10; }
		add rule inet $DLNA_NFT_TABLE count_in iifname "wan0" ip saddr ${NAT_PUBLIC[p1]} ct state new meta l4proto udp counter
	EOF
}

# Prints the packets that the counter of install_nat_counter has seen.
nat_dropped_count() {
	topo_exec home-gw nft -j list chain inet "$DLNA_NFT_TABLE" count_in |
		jq -e '[.nftables[].rule.expr[]?.counter.packets // empty] | add // 0'
}

# Prints the relay data packets that ntm-rsd dropped because their sender
# or its peer had not bound the session yet.
relay_unbound_count() {
	rs_counter '.drops.unbound_source + .drops.peer_unbound'
}

# Writes MEDIA_MIB MiB of noise as a 16-bit stereo WAV file, large and
# incompressible, into the media directory.
dlna_make_media() {
	mkdir -p -- "$WORK/media/Music" "$WORK/minidlna" || return
	head -c $((MEDIA_MIB * 1024 * 1024)) /dev/urandom |
		ffmpeg -loglevel error -f s16le -ar 44100 -ac 2 -i - "$WORK/media/Music/noise.wav" ||
		return
	DLNA_MEDIA_BYTES=$(stat -c %s "$WORK/media/Music/noise.wav")
}

start_minidlna() {
	cat >"$WORK/minidlna.conf" <<-CONF
		port=$MINIDLNA_PORT
		network_interface=eth0
		media_dir=A,$WORK/media
		db_dir=$WORK/minidlna
		log_dir=$WORK
		friendly_name=bench media
		inotify=no
		notify_interval=30
	CONF
	# -S: foreground, logging to log_dir at minidlna's default level (warn).
	topo_bg dms "$WORK/minidlna.log" minidlnad -S -f "$WORK/minidlna.conf" \
		-P "$WORK/minidlna.pid"
}

# Usage: wait_until SECONDS COMMAND...: runs COMMAND every 0.05 s until it
# succeeds, for at most SECONDS.
wait_until() {
	local deadline=$((SECONDS + $1))

	shift
	until "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.05
	done
}

# Succeeds when the Agent's home cache contains a media server.
home_cache_warm() {
	api agent "$SSDPD_ADMIN_PORT" /v1/cache 2>/dev/null |
		jq -e --arg st "$MEDIA_SERVER_TYPE" '[.entries[] | select(.st == $st)] | length > 0' \
			>/dev/null
}

dad_pool_granted() {
	grep -q 'VIP pool of' "$WORK/agent-dad.log"
}

# Writes the configurations of ntm-ssdpd (home mode) and ntm-dad.
write_agent_confs() {
	cat >"$WORK/agent-ssdpd.conf" <<-CONF
		[ssdpd]
		mode = home
		lan_interface = eth0
		lan_prefix = $DLNA_LAN_PREFIX
		ipc = ipc://$WORK/agent-ssdpd.ipc
		ignore_prefix = 198.51.100.0/24
		log_level = info
		[admin]
		listen = 127.0.0.1:$SSDPD_ADMIN_PORT
		token_file = $WORK/admin.token
	CONF
	cat >"$WORK/agent-dad.conf" <<-CONF
		[dad]
		lan_interface = eth0
		lan_address = $DLNA_AGENT_LAN
		tun_interface = ntm0
		vip_count = 4
		state_file = $WORK/dad-servers.json
		allow = ${FQDN[player]}
		noded_ipc = ipc://$WORK/agent.ipc
		ssdpd_ipc = ipc://$WORK/agent-ssdpd.ipc
		log_level = info
		[admin]
		listen = 127.0.0.1:$DAD_ADMIN_PORT
		token_file = $WORK/admin.token
	CONF
}

# Starts ntm-ssdpd in home mode and ntm-dad next to the running ntm-noded of
# the Agent, and waits for the VIP pool and the media server in the cache.
start_agent_daemons() {
	write_agent_confs || return
	topo_bg agent "$WORK/agent-ssdpd.log" "$BUILD/ssdp-proxy/ntm-ssdpd" -f \
		-c "$WORK/agent-ssdpd.conf" || return
	topo_bg agent "$WORK/agent-dad.log" "$BUILD/dad/ntm-dad" -f -c "$WORK/agent-dad.conf" ||
		return
	if ! wait_http agent "$SSDPD_ADMIN_PORT" || ! wait_http agent "$DAD_ADMIN_PORT"; then
		fail "DLNA: ntm-ssdpd or ntm-dad of the Agent did not start"
		show_log agent-ssdpd
		show_log agent-dad
		return 1
	fi
	if ! wait_until 10 dad_pool_granted; then
		fail "DLNA: ntm-dad got no VIP pool within 10 s"
		show_log agent-dad
		return 1
	fi
	# ntm-ssdpd searches the LAN at start, and minidlna announces itself
	# when its scan is done.
	if ! wait_until 20 home_cache_warm; then
		fail "DLNA: the Agent's ntm-ssdpd heard no media server within 20 s"
		show_log agent-ssdpd
		show_log minidlna
		return 1
	fi
}

# Succeeds when the player's ntm-ssdpd has connected to its ntm-noded.
player_ssdpd_connected() {
	api player "$SSDPD_ADMIN_PORT" /v1/status 2>/dev/null |
		jq -e '.noded_connected == true' >/dev/null
}

stop_player_ssdpd() {
	[[ -n $PLAYER_SSDPD_PID ]] || return 0
	stop_process "$PLAYER_SSDPD_PID"
	PLAYER_SSDPD_PID=
}

# Starts the player's ntm-ssdpd and waits until it has connected to the
# player's ntm-noded, so that the first search is not held up by that.
start_player_ssdpd() {
	cat >"$WORK/player-ssdpd.conf" <<-CONF
		[ssdpd]
		mode = player
		agent_fqdn = ${FQDN[agent]}
		noded_ipc = ipc://$WORK/player.ipc
		log_level = info
		[admin]
		listen = 127.0.0.1:$SSDPD_ADMIN_PORT
		token_file = $WORK/admin.token
	CONF
	topo_bg player "$WORK/player-ssdpd.log" "$BUILD/ssdp-proxy/ntm-ssdpd" -f \
		-c "$WORK/player-ssdpd.conf" || return
	PLAYER_SSDPD_PID=$TOPO_BG_PID
	if wait_http player "$SSDPD_ADMIN_PORT" && wait_until 5 player_ssdpd_connected; then
		return 0
	fi
	fail "DLNA: the player's ntm-ssdpd did not start or connect to ntm-noded within 10 s"
	show_log player-ssdpd
	return 1
}

# Restarts the player's node agent and ntm-ssdpd, so that the next search
# builds the tunnel to the Agent anew.
restart_player() {
	stop_player_ssdpd
	restart_node player || return
	start_player_ssdpd
}

# Usage: client_field OUTPUT KEY N: the Nth field of the first line of the
# client's OUTPUT that starts with KEY.
client_field() {
	awk -v key="$2" -v n="$3" '$1 == key { print $n; exit }' <<<"$1"
}

# Usage: first_tunnel_up_line SKIP: the first "tunnel up" line of the
# player's node agent for the Agent after line SKIP of its log.
first_tunnel_up_line() {
	tail -n "+$(($1 + 1))" "$WORK/player.log" |
		grep -m 1 -F "peer ${FQDN[agent]}: tunnel up via"
}

# Sets TUNNEL_COUNT to the number of tunnels that the player's node agent
# lists, up or being built. Entries of failed look-ups are no tunnel: their
# VIPs go to DLNA_FAILED_LOOKUPS.
count_tunnels() {
	local tunnels vip

	tunnels=$(node_api player /v1/tunnels) || return
	for vip in $(jq -r '.tunnels[] | select(.state == "failed") | .peer_vip' <<<"$tunnels"); do
		[[ " ${DLNA_FAILED_LOOKUPS[*]} " == *" $vip "* ]] || DLNA_FAILED_LOOKUPS+=("$vip")
	done
	TUNNEL_COUNT=$(jq -e '[.tunnels[] | select(.state != "failed")] | length' <<<"$tunnels")
}

# Usage: device_info_once: fetches the description of the discovered
# server through its VIP and records the time to the full response.
device_info_once() {
	local out code bytes connect_s total_s

	out=$(topo_exec player curl -sS -m 5 -o /dev/null \
		-w '%{http_code} %{size_download} %{time_connect} %{time_total}' "$DLNA_LOCATION") || {
		fail "DLNA: GET $DLNA_LOCATION from the player failed: $out"
		show_log agent-dad
		return 1
	}
	read -r code bytes connect_s total_s <<<"$out"
	if [[ $code != 200 || $bytes == 0 ]]; then
		fail "DLNA: GET $DLNA_LOCATION returned HTTP $code with $bytes bytes"
		return 1
	fi
	add_sample dlna.device_info.connect_ms "$(awk -v s="$connect_s" 'BEGIN { printf "%.3f", s * 1000 }')"
	add_sample dlna.device_info.total_ms "$(awk -v s="$total_s" 'BEGIN { printf "%.3f", s * 1000 }')"
}

# Usage: record_tunnel_up LOG_LINES T_TRIGGER: records the set-up of the
# player's tunnel to the Agent, whose first "tunnel up" line in the
# player's log comes after line LOG_LINES. Sets TUNNEL_UP_US to the time of
# that line.
record_tunnel_up() {
	local tunnel line via

	if ! tunnel=$(tunnel_json player agent); then
		fail "DLNA: ${FQDN[player]} lists no tunnel to ${FQDN[agent]} after discovery"
		return 1
	fi
	if ! line=$(first_tunnel_up_line "$1"); then
		fail "DLNA: ${FQDN[player]} logged no 'tunnel up' line for ${FQDN[agent]}"
		return 1
	fi
	TUNNEL_UP_US=$(log_time_us "$line")
	via=${line##* via }
	via=${via%% *}
	[[ $via == "$RS_ADDR:$RS_PORT" ]] && DLNA_FIRST_PATHS+=(relayed) || DLNA_FIRST_PATHS+=(punched)
	# shellcheck disable=SC2034 # read in report.sh
	DLNA_ROUTE_CASE=$(jq -r .route_case <<<"$tunnel")

	add_sample dlna.tunnel_discovery.setup_ms "$(ms_of_us "$(jq -r .setup_us <<<"$tunnel")")"
	add_sample dlna.tunnel_discovery.log_ms "$(ms_of_us $((TUNNEL_UP_US - $2)))"
	# The player initiates and sends its Tunnel Request twice, to the
	# Agent's NAT and through the relay. Each copy can be lost on its way:
	# dropped by the Agent before its Route Direction (as in setup_once), by
	# the Agent's NAT, or by ntm-rsd. The player's own unknown_sender count
	# is left out: it counts the PathProbes that the Agent still sends over
	# the previous repetition's tunnel, which arrive before the new player
	# knows the Agent's key and are on no set-up path.
	add_sample dlna.tunnel_discovery.unknown_sender_drops \
		$(($(unknown_sender_drops agent) - AGENT_UNKNOWN_SENDER))
	add_sample dlna.tunnel_discovery.nat_drops $(($(nat_dropped_count) - NAT_DROPS_BEFORE))
	add_sample dlna.tunnel_discovery.relay_unbound_drops \
		$(($(relay_unbound_count) - RELAY_UNBOUND_BEFORE))
}

# Runs the player application's M-SEARCH until its first 200 OK response,
# with the tunnel set-up that the first search triggers, and records both.
discovery_once() {
	local log_lines out t_trigger t_search t_response searches

	log_lines=$(wc -l <"$WORK/player.log")
	out=$(topo_exec player "$PYTHON" "$DLNA_CLIENT" msearch "$MEDIA_SERVER_TYPE" "$MSEARCH_MX" \
		"$MSEARCH_MAX" 2>&1)
	t_trigger=$(client_field "$out" sent 2)
	t_response=$(client_field "$out" response 2)
	if [[ ! $t_trigger =~ ^[0-9]+$ || ! $t_response =~ ^[0-9]+$ ]]; then
		fail "DLNA: the player application's M-SEARCH got no 200 OK response: $out"
		show_log player
		show_log player-ssdpd
		show_log agent-dad
		return 1
	fi
	DLNA_LOCATION=$(client_field "$out" response 3)
	searches=$(grep -c '^sent ' <<<"$out")
	# The search that the 200 OK responds to: the last one sent before it.
	t_search=$(awk '$1 == "sent" { t = $2 } END { print t }' <<<"$out")
	record_tunnel_up "$log_lines" "$t_trigger" || return

	add_sample dlna.discovery.msearch_ms "$(ms_of_us $((t_response - t_search)))"
	add_sample dlna.discovery.first_search_ms "$(ms_of_us $((t_response - t_trigger)))"
	add_sample dlna.discovery.after_tunnel_ms "$(ms_of_us $((t_response - TUNNEL_UP_US)))"
	add_sample dlna.discovery.retries $((searches - 1))
}

# One repetition with a fresh player node.
dlna_once() {
	restart_player || return
	AGENT_UNKNOWN_SENDER=$(unknown_sender_drops agent)
	NAT_DROPS_BEFORE=$(nat_dropped_count) || return
	RELAY_UNBOUND_BEFORE=$(relay_unbound_count) || return
	DLNA_RUNS=$((DLNA_RUNS + 1))
	home_cache_warm && DLNA_WARM_CACHE=$((DLNA_WARM_CACHE + 1))
	discovery_once || return
	device_info_once || return

	# The description came from a VIP of the Agent's pool, which the NTM
	# record of the Agent lists, so the player's node agent must have sent
	# it into the tunnel it already had.
	count_tunnels || return
	add_sample dlna.tunnel_data.extra_tunnels $((TUNNEL_COUNT - 1))
	if ((TUNNEL_COUNT != 1)); then
		fail "DLNA: ${FQDN[player]} lists $TUNNEL_COUNT tunnels after the description, expected 1: $(node_api player /v1/tunnels)"
	fi
}

# Usage: browse_music OUT: a ContentDirectory Browse of minidlna's music
# container through the server's VIP, saved in OUT.
browse_music() {
	local vip=${DLNA_LOCATION#http://}

	vip=${vip%%/*}
	topo_exec player curl -sf -m 10 -o "$1" \
		-H 'Content-Type: text/xml; charset="utf-8"' \
		-H "SOAPACTION: \"$CONTENT_DIRECTORY#Browse\"" \
		--data "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body><u:Browse xmlns:u=\"$CONTENT_DIRECTORY\"><ObjectID>$MINIDLNA_ALL_MUSIC</ObjectID><BrowseFlag>BrowseDirectChildren</BrowseFlag><Filter>*</Filter><StartingIndex>0</StartingIndex><RequestedCount>100</RequestedCount><SortCriteria></SortCriteria></u:Browse></s:Body></s:Envelope>" \
		"http://$vip/ctl/ContentDir"
}

start_plain_http() {
	topo_bg agent "$WORK/plain-http.log" "$PYTHON" -m http.server --bind "${VIP[agent]}" \
		--directory "$WORK/media/Music" "$PLAIN_HTTP_PORT" || return
	PLAIN_HTTP_PID=$TOPO_BG_PID
	wait_until 5 topo_exec agent curl -sf -m 1 -o /dev/null -r 0-0 \
		"http://${VIP[agent]}:$PLAIN_HTTP_PORT/noise.wav"
}

# Usage: download NAME URL: one download of the media file from the player,
# recorded as dlna.throughput.NAME_mb_s in MB/s (10^6 bytes a second).
download() {
	local name=$1 url=$2 out code bytes seconds

	out=$(topo_exec player curl -sS -m 120 -o /dev/null \
		-w '%{http_code} %{size_download} %{time_total}' "$url") || {
		fail "DLNA: download of $url from the player failed: $out"
		return 1
	}
	read -r code bytes seconds <<<"$out"
	if [[ $code != 200 || $bytes != "$DLNA_MEDIA_BYTES" ]]; then
		fail "DLNA: download of $url returned HTTP $code with $bytes of $DLNA_MEDIA_BYTES bytes"
		return 1
	fi
	add_sample "dlna.throughput.${name}_mb_s" \
		"$(awk -v b="$bytes" -v s="$seconds" 'BEGIN { printf "%.1f", b / s / 1e6 }')"
}

# Downloads the media file through the Agent (minidlna's URL at the server's
# VIP) and from the plain HTTP server on the Agent node's VIP, in turn, over
# the same tunnel.
measure_dlna_throughput() {
	local run

	if ! browse_music "$WORK/browse.xml" ||
		! DLNA_MEDIA_URL=$("$PYTHON" "$DLNA_CLIENT" item-url "$WORK/browse.xml" noise); then
		fail "DLNA: Browse through the VIP found no media URL for noise.wav"
		return 1
	fi
	if ! start_plain_http; then
		fail "DLNA: the plain HTTP server on ${VIP[agent]}:$PLAIN_HTTP_PORT did not respond within 5 s"
		show_log plain-http
		return 1
	fi
	# shellcheck disable=SC2034 # read in report.sh
	DLNA_PATH_BEFORE=$(tunnel_path player agent)
	for ((run = 1; run <= DLNA_DOWNLOAD_RUNS; run++)); do
		download agent "$DLNA_MEDIA_URL"
		download plain "http://${VIP[agent]}:$PLAIN_HTTP_PORT/noise.wav"
	done
	# shellcheck disable=SC2034 # read in report.sh
	DLNA_PATH_AFTER=$(tunnel_path player agent)
	stop_process "$PLAIN_HTTP_PID"
}

# The DLNA stage: media server, Agent and player, REPS repetitions of
# discovery and device information with a fresh player node, then media
# throughput.
measure_dlna() {
	local rep

	dlna_make_media || {
		fail "DLNA: making the $MEDIA_MIB MiB media file failed"
		return
	}
	start_minidlna || return
	install_nat_counter || {
		fail "DLNA: adding the nftables counter to home-gw failed"
		return
	}
	enrol_node agent && enrol_node player || return
	start_node agent || return
	start_agent_daemons || return
	for ((rep = 1; rep <= REPS; rep++)); do
		dlna_once || fail "DLNA: repetition $rep failed"
	done
	[[ -n $DLNA_LOCATION ]] || return
	measure_dlna_throughput
}
