# shellcheck shell=bash
# Output of scripts/bench.sh: the JSON file, then the table, which is
# printed from that file so that both always show the same numbers.

# jq definitions shared by the filters below. The median of an even count
# is the mean of the two middle samples.
# shellcheck disable=SC2016 # $a and $b are jq variables
readonly JQ_DEFS='
def median: sort | if length == 0 then null
	elif length % 2 == 1 then .[length / 2 | floor]
	else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def round3: if . == null then null else . * 1000 | round / 1000 end;
def stats: {samples: ., median: (median | round3), min: min, max: max};
def ratio($a; $b): if $a == null or $b == null or $b == 0 then null
	else $a / $b * 1000 | round / 1000 end;
'

# Prints SAMPLES as nested JSON: "setup.one_nat.delivered_ms" becomes
# .setup.one_nat.delivered_ms = {samples, median, min, max}.
samples_json() {
	local key

	for key in "${!SAMPLES[@]}"; do
		printf '%s\t%s\n' "$key" "${SAMPLES[$key]}"
	done | jq -Rn "$JQ_DEFS"'
		reduce (inputs | split("\t")) as $line ({};
			setpath($line[0] | split(".");
				$line[1] | split(" ") | map(select(length > 0) | tonumber) | stats))'
}

# Prints the key=value pairs of an associative array as a JSON object of
# numbers, or null for a missing value.
# Usage: numbers_json NAME KEY...
numbers_json() {
	local -n values=$1
	local key
	shift

	for key in "$@"; do
		printf '%s\t%s\n' "$key" "${values[$key]-null}"
	done | jq -Rn 'reduce (inputs | split("\t")) as $l ({}; .[$l[0]] = ($l[1] | fromjson))'
}

# Usage: relay_json MEASURED: prints the "relay" object of the JSON output:
# TCP over the direct, punched and relayed tunnels, and the forwarding rates
# of ntm-rsd and udpfwd from the samples in MEASURED (samples_json).
relay_json() {
	local throughput

	throughput=$(numbers_json THROUGHPUT ntm punched relayed) || return
	jq -n "$JQ_DEFS"'
		def path($p): if $p == "" then null else $p end;
		($m.forwarding // {}) as $fw
		| {
		rs_max_pps_per_session: $max_pps,
		rs_default_max_pps_per_session: $default_max_pps,
		rs_rate_limited_drops: $rate_limited,
		throughput: {
			tool: "iperf3 TCP over the VIPs", seconds: $iperf_s,
			direct: {nodes: "a -> c, both on public addresses", path: path($direct),
				mbit_s: $tp.ntm},
			punched: {nodes: "p1 -> p2, each behind its own port-preserving NAT",
				path: path($punched), mbit_s: $tp.punched},
			relayed: {nodes: "r1 -> r2, each behind its own port-randomising NAT",
				path: path($relayed), mbit_s: $tp.relayed},
			punched_over_direct: ratio($tp.punched; $tp.ntm),
			relayed_over_direct: ratio($tp.relayed; $tp.ntm)
		},
		forwarding: {
			description: "a load tool in r1 sends UDP datagrams as fast as sendmmsg takes them, through the forwarder in rs and the NATs of r1 and r2, to a counting receiver in r2. ntm-rsd and udpfwd take turns",
			payload_bytes: $payload, seconds_per_run: $forward_s, runs: $forward_reps,
			load_average_1min: $load,
			cpus: (if $pinned then {forwarder: $forwarder_cpu, sender_and_receiver: $load_cpu}
				else null end),
			rs: ({description: "ntm-rsd: relay data packets of the session that the node agents of r1 and r2 bound, sent from the bound address after the agents stopped"}
				+ ($fw.rs // {})),
			udpfwd: ({description: "scripts/bench/udpfwd.c in the same namespace: one recvfrom and one sendto per datagram between two learned peers"}
				+ ($fw.udpfwd // {}))
		}
		}
		| .forwarding as $f
		| .forwarding.rs_over_udpfwd = ([
			"forwarded_pps", "received_pps"] | map({(.):
			ratio($f.rs[.].median; $f.udpfwd[.].median)}) | add)' \
		--argjson m "$1" --argjson tp "$throughput" \
		--arg direct "${TUNNEL_PATH[direct]-}" --arg punched "${TUNNEL_PATH[punched]-}" \
		--arg relayed "${TUNNEL_PATH[relayed]-}" \
		--argjson max_pps "$RS_MAX_PPS" --argjson default_max_pps "$RS_DEFAULT_MAX_PPS" \
		--argjson rate_limited "${RS_RATE_LIMITED:-null}" --argjson iperf_s "$IPERF_SECONDS" \
		--argjson payload "$FORWARD_PAYLOAD_BYTES" --argjson forward_s "$FORWARD_SECONDS" \
		--argjson forward_reps "$FORWARD_REPS" --argjson load "${FORWARD_LOAD_AVERAGE:-null}" \
		--argjson pinned "$( ((${#FORWARDER_PIN[@]} > 0)) && echo true || echo false)" \
		--argjson forwarder_cpu "$FORWARDER_CPU" --argjson load_cpu "$LOAD_CPU"
}

# Usage: count_of VALUE ARRAY_ITEMS...: how many ITEMS equal VALUE.
count_of() {
	local value=$1 item count=0

	shift
	for item in "$@"; do
		[[ $item == "$value" ]] && count=$((count + 1))
	done
	echo "$count"
}

# Usage: dlna_json MEASURED: prints the "dlna" object of the JSON output
# from the samples in MEASURED (samples_json) and the results of dlna.sh.
dlna_json() {
	local failed

	failed=$(printf '%s\n' "${DLNA_FAILED_LOOKUPS[@]}" | jq -Rn '[inputs | select(length > 0)]')
	jq -n "$JQ_DEFS"'
		($m.dlna // {}) as $d
		| {
		description: "player (natp1, behind a port-preserving NAT) discovers minidlna (home LAN, behind another NAT) through the DLNA Agent: ntm-noded, ntm-ssdpd home and ntm-dad on agent; ntm-noded and ntm-ssdpd player on player, both restarted before each repetition",
		route_case: $route_case,
		first_path: {punched: $punched, relayed: $relayed},
		home_cache_warm: {repetitions: $warm, of: $runs},
		round_trips: {relay_allocation: $rt.relay_allocation, tunnel_discovery: $rt.tunnel,
			msearch: $rt.msearch, discovery: $rt.discovery, tunnel_data: $rt.tunnel_data,
			device_info: $rt.device_info, device_info_lan: $rt.device_info_lan},
		tunnel_discovery: ($d.tunnel_discovery // {}),
		discovery: ({msearch_mx_s: $mx, max_searches: $max_searches} + ($d.discovery // {})),
		tunnel_data: ({reused: (if $d.tunnel_data == null then null
				else $d.tunnel_data.extra_tunnels.max == 0 end)}
			| .ms = (if .reused then 0 else null end)
			| . + ($d.tunnel_data // {})),
		device_info: ({location: $location} + ($d.device_info // {})),
		failed_lookups: $failed,
		throughput: {
			tool: "curl, to /dev/null, from player over the tunnel to the Agent",
			media_bytes: $media_bytes, runs_each: $runs_each, unit: "MB/s, 10^6 bytes per second",
			agent: ({url: $media_url,
				through: "ntm-dad proxy to minidlna (server VIP, nftables redirect)"}
				+ ($d.throughput.agent_mb_s // {})),
			plain: ({url: $plain_url,
				through: "python3 -m http.server bound to the Agent node VIP"}
				+ ($d.throughput.plain_mb_s // {})),
			agent_over_plain: ratio($d.throughput.agent_mb_s.median;
				$d.throughput.plain_mb_s.median),
			path_before: (if $path_before == "" then null else $path_before end),
			path_after: (if $path_after == "" then null else $path_after end)
		}
		}' \
		--argjson m "$1" --argjson route_case "${DLNA_ROUTE_CASE:-null}" \
		--argjson punched "$(count_of punched "${DLNA_FIRST_PATHS[@]}")" \
		--argjson relayed "$(count_of relayed "${DLNA_FIRST_PATHS[@]}")" \
		--argjson warm "$DLNA_WARM_CACHE" --argjson runs "$DLNA_RUNS" \
		--argjson rt "$(dlna_round_trips_json)" --argjson mx "$MSEARCH_MX" \
		--argjson max_searches "$MSEARCH_MAX" --arg location "$DLNA_LOCATION" \
		--argjson failed "$failed" --argjson media_bytes "${DLNA_MEDIA_BYTES:-null}" \
		--argjson runs_each "$DLNA_DOWNLOAD_RUNS" --arg media_url "$DLNA_MEDIA_URL" \
		--arg plain_url "http://${VIP[agent]-}:$PLAIN_HTTP_PORT/noise.wav" \
		--arg path_before "$DLNA_PATH_BEFORE" --arg path_after "$DLNA_PATH_AFTER"
}

dlna_round_trips_json() {
	jq -n '{relay_allocation: $alloc, tunnel: $tunnel, msearch: $msearch,
		discovery: $discovery, tunnel_data: $data, device_info: $info,
		device_info_lan: $info_lan}' \
		--argjson alloc "$RT_RELAY_ALLOCATION" --argjson tunnel "$RT_DLNA_TUNNEL" \
		--argjson msearch "$RT_DLNA_MSEARCH" --argjson discovery "$RT_DLNA_DISCOVERY" \
		--argjson data "$RT_DLNA_TUNNEL_DATA" --argjson info "$RT_DLNA_DEVICE_INFO" \
		--argjson info_lan "$RT_DLNA_DEVICE_INFO_LAN"
}

# Usage: write_json DURATION_S
write_json() {
	local measured route_cases throughput relay dlna

	measured=$(samples_json) || return
	route_cases=$(numbers_json ROUTE_CASE peer_global one_nat) || return
	throughput=$(numbers_json THROUGHPUT bare ntm wireguard_go) || return
	relay=$(relay_json "$measured") || return
	dlna=$(dlna_json "$measured") || return
	mkdir -p -- "$(dirname -- "$JSON_OUT")" || return
	jq -n "$JQ_DEFS"'
		($m.setup // {}) as $setup | ($m.move // {}) as $move
		| {
		date: $date,
		machine: {nproc: $nproc, kernel: $kernel, cpu: $cpu, load_average_1min: $load},
		build: {type: "Release", commit: $commit},
		repetitions: $reps,
		duration_s: $duration,
		units: "times in ms; throughput in Mbit/s; packet rates in packets per second",
		definitions: {
			delivered_ms: "T_trigger (the sender calls sendto to the peer VIP) to T_delivered (the peer application has read it), wall clock",
			setup_ms: "setup_us of the initiating node /v1/tunnels: first trigger to tunnel up",
			unknown_sender_drops: "control packets that the two nodes dropped as from an unknown key; 1 means that the first Tunnel Request arrived before the responder had its Route Direction and was retransmitted",
			recreate_node_ms: "last_recreate_us of the moving node /v1/status: netlink event to the first authenticated packet over the new path",
			recreate_external_ms: "wall clock just before topo_move to the moving node log line of that packet (1 ms resolution)",
			interruption_down_ms: "largest gap between probes received by m, sent by c every 1 ms",
			interruption_up_ms: "largest gap between probes received by c, sent by m every 1 ms",
			no_move: "interruption_down_ms and interruption_up_ms of the same streams without a move",
			mover_no_route_sends: "sends in the moving node namespace that failed with no route (IP OutNoRoutes) during the move: control and data packets sent after the new address came and before the default route did",
			path: "the path field of the sending node /v1/tunnels entry after iperf3: direct, punched or relayed",
			sent_pps: "datagrams that sendmmsg accepted in r1, divided by the sender measured sending time",
			forwarded_pps: "datagrams the forwarder sent on (ntm-rsd: the change of forwarded.packets in GET /v1/counters; udpfwd: its own count), divided by the sending time",
			received_pps: "datagrams the receiver in r2 counted, divided by the sending time",
			socket_drops: "the change of UDP RcvbufErrors in the rs namespace during a run: datagrams dropped because the forwarder socket receive buffer was full, so non-zero means the forwarder was the bottleneck",
			user_cpu_s: "user CPU time of the forwarder process, all threads, during a run (/proc/PID/stat)",
			system_cpu_s: "system CPU time of the forwarder process during a run. The kernel work of carrying each datagram on through the namespaces runs largely as softirq, which the kernel accounts to no process",
			"dlna.tunnel_discovery.setup_ms": "setup_us of the player node /v1/tunnels entry for the Agent: the LocalTunnelRequest of ntm-ssdpd to the tunnel up",
			"dlna.tunnel_discovery.unknown_sender_drops": "control packets that the Agent node dropped as from an unknown key during the repetition: a Tunnel Request of the player that arrived before the Agent had its Route Direction",
			"dlna.tunnel_discovery.nat_drops": "new UDP flows from the Internet that home-gw dropped during the repetition: packets of the player that reached the Agent NAT before the Agent PathProbe opened it",
			"dlna.tunnel_discovery.relay_unbound_drops": "relay data packets that ntm-rsd dropped during the repetition because their side or the other side had not bound the session yet (drops unbound_source + peer_unbound)",
			"dlna.tunnel_discovery.log_ms": "the player application sends its first M-SEARCH (T_trigger) to the player node log line tunnel up (1 ms resolution, truncated)",
			"dlna.discovery.msearch_ms": "the M-SEARCH that got the first 200 OK response, from its sending to the receipt of that response by the application; the first M-SEARCH unless retries > 0",
			"dlna.discovery.first_search_ms": "the first M-SEARCH sent to the first 200 OK",
			"dlna.discovery.after_tunnel_ms": "the player node log line tunnel up to the first 200 OK: the search through the tunnel alone",
			"dlna.discovery.retries": "M-SEARCHes without a 200 OK response within MX + 0.2 s, sent before the one that got it",
			"dlna.tunnel_data.extra_tunnels": "tunnels besides the one to the Agent in the player node /v1/tunnels after the description GET, failed look-ups not counted",
			"dlna.device_info.total_ms": "curl time_total of GET LOCATION through the server VIP: full description received",
			"dlna.device_info.connect_ms": "curl time_connect of that GET: the TCP handshake with the Agent over the tunnel",
			"dlna.throughput": "media bytes divided by curl time_total, in MB/s (10^6 bytes per second)"
		},
		setup: {
			peer_global: ({
				description: "a and c on public addresses; a sends the first packet",
				route_case: $rc.peer_global,
				round_trips: {delivered: $rt.setup_delivered_a, tunnel_up: $rt.setup_up_a}
			} + ($setup.peer_global // {})),
			one_nat: ({
				description: "a on a public address sends the first packet to b behind NAT",
				route_case: $rc.one_nat,
				round_trips: {delivered: $rt.setup_delivered_b, tunnel_up: $rt.setup_up_b}
			} + ($setup.one_nat // {}))
		},
		move: {
			public_to_public: ({
				description: "m moves between two routed public networks; its peer c is public"
			} + ($move.public_to_public // {})),
			nat_to_public: ({
				description: "m moves from a LAN behind NAT to a public network; its peer c is public"
			} + ($move.nat_to_public // {})),
			no_move: ({
				description: "the same probe streams without a move: the gaps that the probes themselves cause"
			} + ($move.no_move // {})),
			round_trips: {recreate: $rt.recreate, interruption_down: $rt.gap_down,
				interruption_up: $rt.gap_up},
			probe_interval_ms: $interval
		},
		round_trips: $rt,
		throughput: {
			tool: "iperf3 TCP, a to c", seconds: $iperf_s,
			bare_mbit_s: $tp.bare, ntm_mbit_s: $tp.ntm, wireguard_go_mbit_s: $tp.wireguard_go,
			ntm_over_bare: ratio($tp.ntm; $tp.bare),
			ntm_over_wireguard_go: ratio($tp.ntm; $tp.wireguard_go)
		},
		relay: $relay,
		dlna: $dlna,
		reference: {
			source: $source,
			tunnel_establishment_device_discovery_ms: $ref_discovery,
			device_discovery_ms: $ref_device_discovery,
			tunnel_establishment_data_transfer_ms: $ref_data,
			acquisition_device_information_ms: $ref_device_info,
			tunnel_recreation_ms: $ref_recreate
		}
		}
		| .comparison = [
			{ours: "DLNA: tunnel for discovery, setup_us of the player",
			 ours_ms: .dlna.tunnel_discovery.setup_ms.median,
			 reference: "tunnel establishment for device discovery (Table I)",
			 reference_ms: $ref_discovery},
			{ours: "DLNA: discovery, M-SEARCH -> first 200 OK",
			 ours_ms: .dlna.discovery.msearch_ms.median,
			 reference: "device discovery (Table I)",
			 reference_ms: $ref_device_discovery},
			{ours: "DLNA: discovery, tunnel up -> first 200 OK",
			 ours_ms: .dlna.discovery.after_tunnel_ms.median,
			 reference: "device discovery (Table I)",
			 reference_ms: $ref_device_discovery},
			{ours: "DLNA: tunnel for data transfer, reused",
			 ours_ms: .dlna.tunnel_data.ms,
			 reference: "tunnel establishment for data transfer (Table I)",
			 reference_ms: $ref_data},
			{ours: "DLNA: device information, GET of LOCATION",
			 ours_ms: .dlna.device_info.total_ms.median,
			 reference: "acquisition of device information (Table I)",
			 reference_ms: $ref_device_info},
			{ours: "re-creation, NAT to public, T_move -> T_recreated",
			 ours_ms: .move.nat_to_public.recreate_node_ms.median,
			 reference: "tunnel re-creation after a move (Table II)",
			 reference_ms: $ref_recreate},
			{ours: "re-creation, public to public, T_move -> T_recreated",
			 ours_ms: .move.public_to_public.recreate_node_ms.median,
			 reference: "tunnel re-creation after a move (Table II)",
			 reference_ms: $ref_recreate}
		] | .comparison |= map(.ratio = ratio(.ours_ms; .reference_ms))' \
		--argjson m "$measured" --argjson rc "$route_cases" --argjson tp "$throughput" \
		--argjson relay "$relay" --argjson dlna "$dlna" \
		--arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --argjson nproc "$(nproc)" \
		--arg kernel "$(uname -r)" --argjson load "$LOAD_AVERAGE" \
		--arg cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
		--arg commit "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
		--argjson reps "$REPS" --argjson duration "$1" --argjson iperf_s "$IPERF_SECONDS" \
		--argjson interval "$STREAM_INTERVAL_MS" \
		--argjson rt "$(round_trips_json)" \
		--arg source "$MEIJO_SOURCE" --argjson ref_discovery "$MEIJO_TUNNEL_DISCOVERY_MS" \
		--argjson ref_data "$MEIJO_TUNNEL_DATA_MS" --argjson ref_recreate "$MEIJO_RECREATE_MS" \
		--argjson ref_device_discovery "$MEIJO_DISCOVERY_MS" \
		--argjson ref_device_info "$MEIJO_DEVICE_INFO_MS" \
		>"$JSON_OUT"
}

round_trips_json() {
	jq -n '{registration: $reg, ntm_query: $query, direction: $direction,
		tunnel_handshake: $handshake, first_packet: $first,
		setup_up_a: $up_a, setup_delivered_a: $delivered_a,
		setup_up_b: $up_b, setup_delivered_b: $delivered_b,
		recreate: $recreate, gap_down: $gap_down, gap_up: $gap_up}' \
		--argjson reg "$RT_REGISTRATION" --argjson query "$RT_QUERY" \
		--argjson direction "$RT_DIRECTION" --argjson handshake "$RT_HANDSHAKE" \
		--argjson first "$RT_FIRST_PACKET" \
		--argjson up_a "$RT_SETUP_UP_A" --argjson delivered_a "$RT_SETUP_DELIVERED_A" \
		--argjson up_b "$RT_SETUP_UP_B" --argjson delivered_b "$RT_SETUP_DELIVERED_B" \
		--argjson recreate "$RT_RECREATE" --argjson gap_down "$RT_GAP_DOWN" \
		--argjson gap_up "$RT_GAP_UP"
}

# Usage: jget FILTER: a value of the JSON output, "n/a" for null.
jget() {
	jq -r "($1) // \"n/a\"" "$JSON_OUT"
}

# Usage: jget_ms FILTER: like jget, with 3 decimals (for times in ms and
# ratios).
jget_ms() {
	local value

	value=$(jget "$1")
	if [[ $value == n/a ]]; then
		echo "$value"
	else
		LC_ALL=C printf '%.3f\n' "$value"
	fi
}

# Usage: stat_row LABEL PATH [ROUND_TRIPS]: median, min and max of a time.
stat_row() {
	local values

	printf -v values '%9s %9s %9s' "$(jget_ms "$2.median")" "$(jget_ms "$2.min")" \
		"$(jget_ms "$2.max")"
	if [[ -n ${3-} ]]; then
		printf '    %-40s %s %12s\n' "$1" "$values" "$3"
	else
		printf '    %-40s %s\n' "$1" "$values"
	fi
}

# Usage: count_stat_row LABEL PATH: median, min and max of a count.
count_stat_row() {
	printf '    %-40s %9s %9s %9s\n' "$1" "$(jget "$2.median")" "$(jget "$2.min")" \
		"$(jget "$2.max")"
}

# Usage: count_row LABEL PATH: how many repetitions had a non-zero count.
count_row() {
	printf '    %-40s %s of %s\n' "$1" \
		"$(jq -r "($2.samples // []) | map(select(. > 0)) | length" "$JSON_OUT")" \
		"$(jq -r "($2.samples // []) | length" "$JSON_OUT")"
}

print_setup() {
	local case=$1 title=$2 up=$3 delivered=$4

	printf '  %s, route case %s\n' "$title" "$(jget ".setup.$case.route_case")"
	stat_row "T_trigger -> T_delivered" ".setup.$case.delivered_ms" "$delivered"
	stat_row "setup_us of the node (to tunnel up)" ".setup.$case.setup_ms" "$up"
	count_row "Tunnel Request dropped, retransmitted" ".setup.$case.unknown_sender_drops"
}

print_move() {
	local case=$1 title=$2

	printf '  %s\n' "$title"
	stat_row "T_move -> T_recreated (node)" ".move.$case.recreate_node_ms" "$RT_RECREATE"
	stat_row "before topo_move -> T_recreated (log)" ".move.$case.recreate_external_ms" \
		"$RT_RECREATE"
	stat_row "interruption c -> m" ".move.$case.interruption_down_ms" "$RT_GAP_DOWN"
	stat_row "interruption m -> c" ".move.$case.interruption_up_ms" "$RT_GAP_UP"
	count_stat_row "sends of m that found no route (count)" ".move.$case.mover_no_route_sends"
}

print_round_trips() {
	echo "Round trips of each step (add RTT x count for a real network):"
	printf '  %-28s %-48s %s\n' \
		"registration" "RegistrationRequest -> RegistrationResponse" "$RT_REGISTRATION node-DC" \
		"NTM query" "NtmQuery -> NtmQueryResponse" "$RT_QUERY node-DC" \
		"direction, route case a" "DirectionRequest -> RouteDirection" "$RT_DIRECTION node-DC" \
		"direction, route case b" "DirectionRequest, RouteDirection to the peer" \
		"$RT_DIRECTION (0.5 node-DC, 0.5 DC-peer)" \
		"tunnel handshake" "TunnelRequest -> TunnelResponse" "$RT_HANDSHAKE node-node" \
		"first packet" "queued packet to the peer" "$RT_FIRST_PACKET node-node" \
		"re-creation after a move" "TunnelRequest -> TunnelResponse, to the peer" \
		"$RT_RECREATE node-node" \
		"DLNA: relay allocation" "DC -> ntm-rsd allocation -> DC, route case d" \
		"$RT_RELAY_ALLOCATION DC-RS" \
		"DLNA: search via the Agent" "MSearchRequest -> MSearchResponse" \
		"$RT_DLNA_MSEARCH node-node (+0: Agent's cache)" \
		"DLNA: device information" "TCP handshake, GET -> 200 OK, over the tunnel" \
		"$RT_DLNA_DEVICE_INFO node-node + $RT_DLNA_DEVICE_INFO_LAN Agent-server on the LAN"
}

print_throughput() {
	printf 'Throughput: iperf3 TCP, %s s, a -> c (Mbit/s)\n' "$IPERF_SECONDS"
	printf '  %-34s %10s\n' "bare veth (real addresses)" "$(jget .throughput.bare_mbit_s)" \
		"ntm tunnel (VIPs)" "$(jget .throughput.ntm_mbit_s)" \
		"wireguard-go (Debian)" "$(jget .throughput.wireguard_go_mbit_s)"
	printf '  %-34s %10s\n' "ntm/bare" "$(jget_ms .throughput.ntm_over_bare)" \
		"ntm/wireguard-go" "$(jget_ms .throughput.ntm_over_wireguard_go)"
}

print_relay_throughput() {
	local path=.relay.throughput

	printf 'Punched and relayed tunnels: iperf3 TCP, %s s, over the VIPs (Mbit/s)\n' \
		"$IPERF_SECONDS"
	printf '  %-50s %10s  path %s\n' \
		"direct tunnel, a -> c (both public)" "$(jget "$path.direct.mbit_s")" \
		"$(jget "$path.direct.path")" \
		"punched tunnel, p1 -> p2 (port-preserving NATs)" "$(jget "$path.punched.mbit_s")" \
		"$(jget "$path.punched.path")" \
		"relayed tunnel, r1 -> r2 (port-randomising NATs)" "$(jget "$path.relayed.mbit_s")" \
		"$(jget "$path.relayed.path")"
	printf '  %-50s %10s\n' "punched/direct" "$(jget_ms "$path.punched_over_direct")" \
		"relayed/direct" "$(jget_ms "$path.relayed_over_direct")"
	printf '  ntm-rsd ran with max_pps_per_session = %s (default %s), so that the\n' \
		"$(jget .relay.rs_max_pps_per_session)" "$(jget .relay.rs_default_max_pps_per_session)"
	echo "  per-session packet limit caps none of the relay numbers in this table and the"
	printf '  next. Packets that ntm-rsd dropped at the limit in this run: %s\n' \
		"$(jget .relay.rs_rate_limited_drops)"
}

# Usage: forward_row LABEL NAME: the median packet rates of one forwarder.
forward_row() {
	local path=.relay.forwarding.$2

	printf '  %-40s %9s %9s %9s %9s\n' "$1" "$(jget "$path.sent_pps.median")" \
		"$(jget "$path.forwarded_pps.median")" "$(jget "$path.received_pps.median")" \
		"$(jget "$path.socket_drops.median")"
}

# Usage: forward_detail NAME: the range of the forwarded rate and the CPU
# time of the forwarder process.
forward_detail() {
	local path=.relay.forwarding.$1

	printf '%s to %s packets/s, CPU %s s user + %s s system' \
		"$(jget "$path.forwarded_pps.min")" "$(jget "$path.forwarded_pps.max")" \
		"$(jget "$path.user_cpu_s.median")" "$(jget "$path.system_cpu_s.median")"
}

print_forwarding() {
	local path=.relay.forwarding

	printf 'Forwarding rate: %s-byte UDP payloads, r1 -> forwarder in rs -> r2,\n' \
		"$(jget "$path.payload_bytes")"
	printf 'median of %s runs of %s s each, ntm-rsd and udpfwd in turn' \
		"$(jget "$path.runs")" "$(jget "$path.seconds_per_run")"
	if [[ $(jget "$path.cpus") != n/a ]]; then
		printf ', forwarder on CPU %s,\nsender and receiver on CPU %s' \
			"$(jget "$path.cpus.forwarder")" "$(jget "$path.cpus.sender_and_receiver")"
	fi
	printf ', load average %s before\n' "$(jget "$path.load_average_1min")"
	printf '  %-40s %9s %9s %9s %9s\n' "packets/s" sent forwarded received drops
	forward_row "ntm-rsd, relay data of a bound session" rs
	forward_row "udpfwd, one recvfrom + sendto each" udpfwd
	printf '  %-40s %9s %9s %9s\n' "ntm-rsd/udpfwd" "" \
		"$(jget_ms "$path.rs_over_udpfwd.forwarded_pps")" \
		"$(jget_ms "$path.rs_over_udpfwd.received_pps")"
	echo "  drops: datagrams per run that the forwarder's socket had no room for; while"
	echo "  non-zero, the forwarder, not the sender, limited the rate."
	echo "  Each run, min to max, and the median CPU time of the forwarder process:"
	printf '    ntm-rsd %s\n' "$(forward_detail rs)"
	printf '    udpfwd  %s\n' "$(forward_detail udpfwd)"
}

# Usage: dlna_row LABEL PATH ROUND_TRIPS REFERENCE_MS
dlna_row() {
	local values

	printf -v values '%9s %9s %9s' "$(jget_ms "$2.median")" "$(jget_ms "$2.min")" \
		"$(jget_ms "$2.max")"
	printf '    %-40s %s %12s %9s\n' "$1" "$values" "$3" "$4"
}

print_dlna_steps() {
	local path=.dlna

	printf '%-44s %9s %9s %9s %12s %9s\n' "DLNA, the steps of Table I" median min max \
		"round trips" prototype
	printf '  player (behind NAT) -> Agent (home, behind NAT) -> minidlna, route case %s;\n' \
		"$(jget "$path.route_case")"
	echo "  fresh ntm-noded and ntm-ssdpd on the player before each repetition"
	echo "  1 tunnel for discovery"
	dlna_row "setup_us of the player (to tunnel up)" "$path.tunnel_discovery.setup_ms" \
		"$RT_DLNA_TUNNEL" "$MEIJO_TUNNEL_DISCOVERY_MS"
	dlna_row "M-SEARCH -> \"tunnel up\" (log)" "$path.tunnel_discovery.log_ms" \
		"$RT_DLNA_TUNNEL" ""
	echo "    Tunnel Request copies lost (repetitions with a loss):"
	count_row "  dropped by the Agent, unknown key" "$path.tunnel_discovery.unknown_sender_drops"
	count_row "  dropped at the Agent's NAT" "$path.tunnel_discovery.nat_drops"
	count_row "  dropped by ntm-rsd, side unbound" "$path.tunnel_discovery.relay_unbound_drops"
	echo "  2 discovery"
	dlna_row "M-SEARCH -> first 200 OK" "$path.discovery.msearch_ms" "$RT_DLNA_DISCOVERY" \
		"$MEIJO_DISCOVERY_MS"
	dlna_row "\"tunnel up\" (log) -> first 200 OK" "$path.discovery.after_tunnel_ms" \
		"$RT_DLNA_MSEARCH" ""
	count_row "M-SEARCHes without a response first" "$path.discovery.retries"
	echo "  3 tunnel for data transfer"
	# Not a measured time: 0 when no repetition needed a second tunnel.
	printf '    %-40s %9s %9s %9s %12s %9s\n' "tunnel reused, no set-up" \
		"$(jget_ms "$path.tunnel_data.ms")" "" "" "$RT_DLNA_TUNNEL_DATA" "$MEIJO_TUNNEL_DATA_MS"
	count_row "a second tunnel after the GET" "$path.tunnel_data.extra_tunnels"
	echo "  4 device information"
	dlna_row "GET of LOCATION, full response" "$path.device_info.total_ms" \
		"$RT_DLNA_DEVICE_INFO+$RT_DLNA_DEVICE_INFO_LAN LAN" "$MEIJO_DEVICE_INFO_MS"
	dlna_row "TCP connect to the server VIP" "$path.device_info.connect_ms" 1 ""
}

print_dlna_notes() {
	local path=.dlna

	printf "  the tunnel came up first over the punched path in %s, the relay in %s, of %s\n" \
		"$(jget "$path.first_path.punched")" "$(jget "$path.first_path.relayed")" \
		"$(jget "$path.home_cache_warm.of")"
	printf "  the Agent's cache contained the server before the search in %s of %s\n" \
		"$(jget "$path.home_cache_warm.repetitions")" "$(jget "$path.home_cache_warm.of")"
	echo "  (warm: no LAN search on the path); the round trips of 1 and 2 include the"
	echo "  relay allocation, DC to ntm-rsd and back (1)"
	if [[ $(jq '.dlna.failed_lookups | length' "$JSON_OUT") -gt 0 ]]; then
		printf "  failed look-ups in the player's /v1/tunnels (no tunnel): %s\n" \
			"$(jq -r '.dlna.failed_lookups | join(", ")' "$JSON_OUT")"
	fi
}

# Usage: jget_mb_s FILTER: a rate in MB/s with 1 decimal, or "n/a".
jget_mb_s() {
	local value

	value=$(jget "$1")
	if [[ $value == n/a ]]; then
		echo "$value"
	else
		LC_ALL=C printf '%.1f\n' "$value"
	fi
}

print_dlna() {
	print_dlna_steps
	print_dlna_notes
}

print_dlna_throughput() {
	local path=.dlna.throughput

	printf 'Media through the Agent: curl, %s bytes (%s MiB WAV), %s downloads each, MB/s\n' \
		"$(jget "$path.media_bytes")" "$MEDIA_MIB" "$(jget "$path.runs_each")"
	printf '  %-50s %9s %9s %9s\n' "" median min max
	printf '  %-50s %9s %9s %9s\n' "through ntm-dad to minidlna (server VIP)" \
		"$(jget_mb_s "$path.agent.median")" "$(jget_mb_s "$path.agent.min")" \
		"$(jget_mb_s "$path.agent.max")" \
		"plain HTTP server on the Agent node's VIP" \
		"$(jget_mb_s "$path.plain.median")" "$(jget_mb_s "$path.plain.min")" \
		"$(jget_mb_s "$path.plain.max")"
	printf '  %-50s %9s\n' "agent/plain" "$(jget_ms "$path.agent_over_plain")"
	printf '  tunnel path: %s before, %s after\n' "$(jget "$path.path_before")" \
		"$(jget "$path.path_after")"
}

print_comparison() {
	local i count

	printf 'Compared with %s:\n' "$MEIJO_SOURCE"
	printf '  %-54s %8s  %-52s %9s %8s\n' "ours (median)" "ms" "the prototype" "ms" \
		"ratio"
	count=$(jq '.comparison | length' "$JSON_OUT")
	for ((i = 0; i < count; i++)); do
		printf '  %-54s %8s  %-52s %9s %8s\n' "$(jget ".comparison[$i].ours")" \
			"$(jget_ms ".comparison[$i].ours_ms")" "$(jget ".comparison[$i].reference")" \
			"$(jget ".comparison[$i].reference_ms")" "$(jget_ms ".comparison[$i].ratio")"
	done
	echo "  ratio = ours / the prototype's. The prototype's testbed was a local network with"
	echo "  small but real round-trip times; ours has none (see the round trips above)."
	echo "  The prototype's device discovery starts after its tunnel is up; our M-SEARCH ->"
	echo "  first 200 OK includes the tunnel set-up, tunnel up -> first 200 OK does not."
}

print_header() {
	printf 'NTMobile benchmark, %s, %s CPUs, kernel %s, commit %s\n' "$(jget .date)" \
		"$(jget .machine.nproc)" "$(jget .machine.kernel)" "$(jget .build.commit)"
	printf 'CPU %s, load average %s before the run\n' "$(jget .machine.cpu)" \
		"$(jget .machine.load_average_1min)"
	printf 'Times in ms over %s repetitions. Namespaces add no propagation delay, so a\n' "$REPS"
	echo "time here is processing only: add RTT x round trips for a real network."
}

print_setups() {
	printf '%-44s %9s %9s %9s %12s\n' "Tunnel set-up" median min max "round trips"
	print_setup peer_global "peer global (a -> c, both public)" "$RT_SETUP_UP_A" \
		"$RT_SETUP_DELIVERED_A"
	print_setup one_nat "one NAT (a public -> b behind NAT)" "$RT_SETUP_UP_B" \
		"$RT_SETUP_DELIVERED_B"
}

print_moves() {
	printf '%-44s %9s %9s %9s %12s\n' "Tunnel re-creation after a move of m" median min max \
		"round trips"
	print_move public_to_public "public -> public network (peer c public)"
	print_move nat_to_public "NAT -> public network (peer c public)"

	printf '  %s\n' "no move: the probe streams alone"
	stat_row "largest gap c -> m" ".move.no_move.interruption_down_ms"
	stat_row "largest gap m -> c" ".move.no_move.interruption_up_ms"
	printf '  probes every %s ms between the VIPs of m and c in each direction\n' \
		"$STREAM_INTERVAL_MS"
}

print_report() {
	local section

	for section in print_header print_setups print_moves print_round_trips print_throughput \
		print_relay_throughput print_forwarding print_dlna print_dlna_throughput \
		print_comparison; do
		"$section"
		echo
	done
	printf 'JSON: %s\n' "$JSON_OUT"
}
