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

# Usage: write_json DURATION_S
write_json() {
	local measured route_cases throughput

	measured=$(samples_json) || return
	route_cases=$(numbers_json ROUTE_CASE peer_global one_nat) || return
	throughput=$(numbers_json THROUGHPUT bare ntm wireguard_go) || return
	mkdir -p -- "$(dirname -- "$JSON_OUT")" || return
	jq -n "$JQ_DEFS"'
		($m.setup // {}) as $setup | ($m.move // {}) as $move
		| {
		date: $date,
		machine: {nproc: $nproc, kernel: $kernel, cpu: $cpu, load_average_1min: $load},
		build: {type: "Release", commit: $commit},
		repetitions: $reps,
		duration_s: $duration,
		units: "times in ms; throughput in Mbit/s",
		definitions: {
			delivered_ms: "T_trigger (the sender calls sendto to the peer VIP) to T_delivered (the peer application has read it), wall clock",
			setup_ms: "setup_us of the initiating node /v1/tunnels: first trigger to tunnel up",
			unknown_sender_drops: "control packets that the two nodes dropped as from an unknown key; 1 means that the first Tunnel Request arrived before the responder had its Route Direction and was retransmitted",
			recreate_node_ms: "last_recreate_us of the moving node /v1/status: netlink event to the first authenticated packet over the new path",
			recreate_external_ms: "wall clock just before topo_move to the moving node log line of that packet (1 ms resolution)",
			interruption_down_ms: "largest gap between probes received by m, sent by c every 1 ms",
			interruption_up_ms: "largest gap between probes received by c, sent by m every 1 ms",
			no_move: "interruption_down_ms and interruption_up_ms of the same streams without a move",
			mover_no_route_sends: "sends in the moving node namespace that failed with no route (IP OutNoRoutes) during the move: control and data packets sent after the new address came and before the default route did"
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
		reference: {
			source: $source,
			tunnel_establishment_device_discovery_ms: $ref_discovery,
			tunnel_establishment_data_transfer_ms: $ref_data,
			tunnel_recreation_ms: $ref_recreate
		}
		}
		| .comparison = [
			{ours: "tunnel set-up, one NAT, T_trigger -> T_delivered",
			 ours_ms: .setup.one_nat.delivered_ms.median,
			 reference: "tunnel establishment for device discovery (Table I)",
			 reference_ms: $ref_discovery},
			{ours: "tunnel set-up, one NAT, T_trigger -> T_delivered",
			 ours_ms: .setup.one_nat.delivered_ms.median,
			 reference: "tunnel establishment for data transfer (Table I)",
			 reference_ms: $ref_data},
			{ours: "tunnel set-up, peer global, T_trigger -> T_delivered",
			 ours_ms: .setup.peer_global.delivered_ms.median,
			 reference: "tunnel establishment for device discovery (Table I)",
			 reference_ms: $ref_discovery},
			{ours: "tunnel set-up, peer global, T_trigger -> T_delivered",
			 ours_ms: .setup.peer_global.delivered_ms.median,
			 reference: "tunnel establishment for data transfer (Table I)",
			 reference_ms: $ref_data},
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
		--arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --argjson nproc "$(nproc)" \
		--arg kernel "$(uname -r)" --argjson load "$LOAD_AVERAGE" \
		--arg cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
		--arg commit "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
		--argjson reps "$REPS" --argjson duration "$1" --argjson iperf_s "$IPERF_SECONDS" \
		--argjson interval "$STREAM_INTERVAL_MS" \
		--argjson rt "$(round_trips_json)" \
		--arg source "$MEIJO_SOURCE" --argjson ref_discovery "$MEIJO_TUNNEL_DISCOVERY_MS" \
		--argjson ref_data "$MEIJO_TUNNEL_DATA_MS" --argjson ref_recreate "$MEIJO_RECREATE_MS" \
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
		"$RT_RECREATE node-node"
}

print_throughput() {
	printf 'Throughput: iperf3 TCP, %s s, a -> c (Mbit/s)\n' "$IPERF_SECONDS"
	printf '  %-34s %10s\n' "bare veth (real addresses)" "$(jget .throughput.bare_mbit_s)" \
		"ntm tunnel (VIPs)" "$(jget .throughput.ntm_mbit_s)" \
		"wireguard-go (Debian)" "$(jget .throughput.wireguard_go_mbit_s)"
	printf '  %-34s %10s\n' "ntm/bare" "$(jget_ms .throughput.ntm_over_bare)" \
		"ntm/wireguard-go" "$(jget_ms .throughput.ntm_over_wireguard_go)"
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
		print_comparison; do
		"$section"
		echo
	done
	printf 'JSON: %s\n' "$JSON_OUT"
}
