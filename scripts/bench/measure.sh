# shellcheck shell=bash
# The measurements of scripts/bench.sh: tunnel set-up, re-creation after a
# move, throughput. Each stores its results in SAMPLES, ROUTE_CASE or
# THROUGHPUT (declared below) and records a failure with fail() instead of
# stopping, so one broken case does not hide the others.

# Timing samples in ms, space-separated, keyed by their place in the JSON
# output ("setup.one_nat.delivered_ms").
declare -gA SAMPLES=()
# Route case of each set-up case, from the initiating node's /v1/tunnels,
# and iperf3 results in Mbit/s keyed by path (bare, ntm, wireguard_go, and
# from relay.sh punched and relayed).
# report.sh reads both through a nameref, which shellcheck does not follow.
declare -gA ROUTE_CASE=() THROUGHPUT=()

# Usage: add_sample KEY MS
add_sample() {
	SAMPLES[$1]="${SAMPLES[$1]-} $2"
}

# Names of the wireguard-go interfaces. Their UAPI sockets live in the
# shared /var/run/wireguard, so the names carry this run's PID.
WG_IF=()

# Usage: tunnel_json INITIATOR PEER: the initiator's /v1/tunnels entry for
# the peer, as one line of JSON.
tunnel_json() {
	node_api "$1" /v1/tunnels |
		jq -ce --arg fqdn "${FQDN[$2]}" '.tunnels[] | select(.peer_fqdn == $fqdn)'
}

# Usage: setup_once CASE INITIATOR PEER EXPECTED_ROUTE_CASE
# Restarts both node agents, so that the tunnel is new on both sides. Then
# sends one UDP datagram from the initiator to the peer's VIP (T_trigger)
# and takes the time the peer's application reads it (T_delivered).
setup_once() {
	local case=$1 init=$2 peer=$3 expected=$4
	local out=$WORK/once-recv.out receiver t_trigger t_delivered tunnel setup_us route

	restart_node "$init" && restart_node "$peer" || return 1
	: >"$out"
	topo_bg "$peer" "$out" "$PYTHON" "$PROBE" once-recv "$PROBE_PORT" 5 || return 1
	receiver=$TOPO_BG_PID
	if ! wait_ready "$out"; then
		fail "$case: the probe receiver in $peer did not start"
		return 1
	fi
	t_trigger=$(topo_exec "$init" "$PYTHON" "$PROBE" once-send "${VIP[$peer]}" "$PROBE_PORT")
	if [[ ! $t_trigger =~ ^[0-9]+$ ]]; then
		fail "$case: the probe sender in $init failed"
		kill -TERM "$receiver" 2>/dev/null
		wait "$receiver" 2>/dev/null
		return 1
	fi
	if ! wait "$receiver"; then
		fail "$case: the datagram from ${FQDN[$init]} to ${VIP[$peer]}:$PROBE_PORT never arrived; the tunnel did not come up within 5 s"
		show_log "$init"
		show_log "$peer"
		return 1
	fi
	t_delivered=$(grep -E '^[0-9]+$' "$out" | head -n 1)

	if ! tunnel=$(tunnel_json "$init" "$peer"); then
		fail "$case: ${FQDN[$init]} lists no tunnel to ${FQDN[$peer]} after delivery"
		return 1
	fi
	setup_us=$(jq -r .setup_us <<<"$tunnel")
	route=$(jq -r .route_case <<<"$tunnel")
	# shellcheck disable=SC2034 # read in report.sh
	ROUTE_CASE[$case]=$route
	if [[ $route != "$expected" ]]; then
		fail "$case: route case $route, expected $expected; tunnel $tunnel"
	fi
	add_sample "setup.$case.delivered_ms" "$(ms_of_us $((t_delivered - t_trigger)))"
	add_sample "setup.$case.setup_ms" "$(ms_of_us "$setup_us")"
	# A responder drops a Tunnel Request that arrives before its own Route
	# Direction, as from an unknown key, and the initiator retransmits it
	# 250 ms later. Both agents started with this repetition, so the sum of
	# their counters identifies such repetitions.
	add_sample "setup.$case.unknown_sender_drops" \
		"$(($(unknown_sender_drops "$init") + $(unknown_sender_drops "$peer")))"
}

# Usage: unknown_sender_drops NAME: the node's count of packets dropped as
# from an unknown key.
unknown_sender_drops() {
	node_api "$1" /v1/status | jq -e '.dropped.unknown_sender' || echo 0
}

# Usage: measure_setup CASE INITIATOR PEER
measure_setup() {
	local case=$1 expected rep

	case $case in
	peer_global) expected=1 ;; # ROUTE_CASE_DIRECT: the requester initiates
	one_nat) expected=2 ;;     # ROUTE_CASE_NAT_SIDE_OPENS: the NATed peer initiates
	esac
	for ((rep = 1; rep <= REPS; rep++)); do
		setup_once "$case" "$2" "$3" "$expected" || fail "$case: repetition $rep failed"
	done
}

# Usage: start_streams: starts a probe receiver on m and on c, waits until
# both listen, then starts the 1 ms senders c -> m (down) and m -> c (up).
# Sets STREAM_PIDS.
start_streams() {
	local send_s receive_s

	send_s=$(awk -v l="$STREAM_LEAD_SECONDS" -v a="$STREAM_AFTER_SECONDS" \
		'BEGIN { print l + a }')
	# A receiver stops at its sender's end marker. The limit only ends a
	# stream whose end was lost.
	receive_s=$(awk -v s="$send_s" -v t="$STREAM_TAIL_SECONDS" 'BEGIN { print s + t }')
	: >"$WORK/down.out"
	: >"$WORK/up.out"
	: >"$WORK/send-down.out"
	: >"$WORK/send-up.out"
	STREAM_PIDS=()
	topo_bg m "$WORK/down.out" "$PYTHON" "$PROBE" stream-recv "$PROBE_PORT" "$receive_s" || return
	STREAM_PIDS+=("$TOPO_BG_PID")
	topo_bg c "$WORK/up.out" "$PYTHON" "$PROBE" stream-recv "$PROBE_PORT" "$receive_s" || return
	STREAM_PIDS+=("$TOPO_BG_PID")
	wait_ready "$WORK/down.out" && wait_ready "$WORK/up.out" || return
	topo_bg c "$WORK/send-down.out" "$PYTHON" "$PROBE" stream-send "${VIP[m]}" "$PROBE_PORT" \
		"$send_s" "$STREAM_INTERVAL_MS" || return
	STREAM_PIDS+=("$TOPO_BG_PID")
	topo_bg m "$WORK/send-up.out" "$PYTHON" "$PROBE" stream-send "${VIP[c]}" "$PROBE_PORT" \
		"$send_s" "$STREAM_INTERVAL_MS" || return
	STREAM_PIDS+=("$TOPO_BG_PID")
}

# Usage: move_to LAN: moves m into LAN. Sets M_LEFT_IF to the interface
# that topo_move set down.
move_to() {
	local lan=$1

	M_LEFT_IF=${M_IF[$M_LAN]}
	if ! topo_move m "$M_LEFT_IF" "$lan" "${M_ADDR[$lan]}" "${M_GATEWAY[$lan]}"; then
		fail "topo_move of m from $M_LAN to $lan failed"
		return 1
	fi
	M_LAN=$lan
}

# Brings the interface that the last move left back up, without an
# address. topo_move sets the interface it enters up in the same instant as
# it adds the address. In this testbed, tcpdump showed that an ARP request
# sent within a few milliseconds of that link-up got no reply, so the kernel
# resolved the gateway only on its retry 1 s later
# (net.ipv4.neigh.default.retrans_time_ms). A real link is up long before
# it gets an address (Wi-Fi associates, then DHCP runs), so each interface
# stays up here and a move changes addresses and routes only. The node
# agent ignores link changes that change no address.
raise_left_link() {
	topo_exec m ip link set dev "$M_LEFT_IF" up ||
		fail "bringing $M_LEFT_IF of m back up failed"
}

# Usage: settle: waits until the post-move re-registration and Route
# Direction are done, and checks that the tunnel m -> c is up.
settle() {
	local tunnel

	sleep "$SETTLE_SECONDS"
	tunnel=$(tunnel_json m c) && [[ $(jq -r .state <<<"$tunnel") == up ]] && return 0
	fail "after the move to $M_LAN, ${FQDN[m]} has no tunnel up to ${FQDN[c]}: ${tunnel:-none}"
	show_log m
	return 1
}

# Usage: log_time_us LINE: the wall time of a daemon log line in µs. The
# log has millisecond resolution ("2026-01-31T12:00:00.123Z ...").
log_time_us() {
	local stamp=${1%% *}

	date -u -d "$stamp" +%s%6N
}

# Usage: snmp_counter NS PROTOCOL FIELD: one counter of the namespace's
# /proc/net/snmp, such as "Ip OutNoRoutes" or "Udp RcvbufErrors".
snmp_counter() {
	# shellcheck disable=SC2016 # $1 and $i are awk fields
	topo_exec "$1" awk -v proto="$2:" -v field="$3" '$1 == proto && !header {
		for (i = 2; i <= NF; i++) column[$i] = i; header = 1; next }
		$1 == proto { print $column[field] }' /proc/net/snmp
}

# Usage: no_route_count NS: the namespace's IP OutNoRoutes counter: sends
# that failed because no route matched (RFC 4293 ipSystemStatsOutNoRoutes).
no_route_count() {
	snmp_counter "$1" Ip OutNoRoutes
}

# Usage: move_once CASE LAN: moves m into LAN while probes stream both
# ways between the VIPs of m and c, and records the node's re-creation
# time, the external one, and the largest gap of each stream.
move_once() {
	local case=$1 lan=$2 status moves_before moves_after recreate_us
	local log_lines t_move line pid ok=1 gap direction no_route

	status=$(node_api m /v1/status) || return 1
	moves_before=$(jq -r .moves <<<"$status")
	log_lines=$(wc -l <"$WORK/m.log")
	no_route=$(no_route_count m) || return 1
	start_streams || {
		fail "$case: the probe streams did not start"
		return 1
	}
	sleep "$STREAM_LEAD_SECONDS"

	# T_move, taken externally: just before topo_move.
	t_move=$(topo_now_us)
	move_to "$lan" || ok=0
	for pid in "${STREAM_PIDS[@]}"; do
		wait "$pid" || ok=0
	done
	raise_left_link
	((ok)) || return 1
	# The node agent sends on the RTM_NEWADDR event. When the default route
	# is not there yet, those sends fail and wait for a retransmission
	# timer. The count, data packets included, marks such repetitions.
	no_route=$(($(no_route_count m) - no_route))
	add_sample "move.$case.mover_no_route_sends" "$no_route"

	status=$(node_api m /v1/status) || return 1
	moves_after=$(jq -r .moves <<<"$status")
	recreate_us=$(jq -r .last_recreate_us <<<"$status")
	if ((moves_after <= moves_before || recreate_us == 0)); then
		fail "$case: ${FQDN[m]} did not follow the move to $lan (moves $moves_before -> $moves_after, last_recreate_us $recreate_us)"
		show_log m
		return 1
	fi
	line=$(tail -n "+$((log_lines + 1))" "$WORK/m.log" |
		grep -m 1 -F "peer ${FQDN[c]}: tunnel up via")
	if [[ -z $line ]]; then
		fail "$case: ${FQDN[m]} logged no 'tunnel up' line for ${FQDN[c]} after the move"
		return 1
	fi
	add_sample "move.$case.recreate_node_ms" "$(ms_of_us "$recreate_us")"
	add_sample "move.$case.recreate_external_ms" "$(ms_of_us $(($(log_time_us "$line") - t_move)))"

	for direction in down up; do
		if ! stream_recovered "$WORK/$direction.out" "$WORK/send-$direction.out"; then
			fail "$case: the $direction probe stream did not recover within $STREAM_AFTER_SECONDS s of the move to $lan"
			show_log m
			return 1
		fi
		gap=$(topo_max_gap_ms "$WORK/$direction.out") || return 1
		add_sample "move.$case.interruption_${direction}_ms" "$gap"
	done
}

# Usage: stream_recovered RECEIVER_OUT SENDER_OUT: succeeds when one of the
# last 50 probes sent was received, so the largest gap lies inside the
# stream and not after its end.
stream_recovered() {
	local sent

	read -r sent _ <"$2" || return 1
	awk -v last="$((sent - 50))" '$1 ~ /^[0-9]+$/ && $2 >= last { found = 1 }
		END { exit !found }' "$1"
}

# Usage: baseline_once: the largest gaps of the two probe streams without
# a move, which is what the probes' own scheduling costs.
baseline_once() {
	local pid ok=1 gap direction

	start_streams || {
		fail "baseline: the probe streams did not start"
		return 1
	}
	for pid in "${STREAM_PIDS[@]}"; do
		wait "$pid" || ok=0
	done
	((ok)) || return 1
	for direction in down up; do
		gap=$(topo_max_gap_ms "$WORK/$direction.out") || return 1
		add_sample "move.no_move.interruption_${direction}_ms" "$gap"
	done
}

measure_moves() {
	local rep lan

	# Fresh agents on both ends, and the tunnel up before the first move.
	restart_node c && restart_node m || return
	if ! topo_exec m ping -c 1 -W 3 "${VIP[c]}" >/dev/null; then
		fail "ping from ${FQDN[m]} to ${VIP[c]} failed: no tunnel before the moves"
		show_log m
		return
	fi
	settle || return

	for ((rep = 1; rep <= REPS; rep++)); do
		baseline_once || fail "no_move: repetition $rep failed"
	done
	for ((rep = 1; rep <= REPS; rep++)); do
		# Back and forth between the two public networks.
		[[ $M_LAN == pub1 ]] && lan=pub2 || lan=pub1
		move_once public_to_public "$lan" || fail "public_to_public: repetition $rep failed"
		settle || return
	done
	for ((rep = 1; rep <= REPS; rep++)); do
		move_to home && raise_left_link && settle || return
		move_once nat_to_public pub1 || fail "nat_to_public: repetition $rep failed"
		settle || return
	done
}

# Usage: iperf_run PATH_NAME CLIENT SERVER ADDR: iperf3 TCP from CLIENT to
# the server in SERVER at ADDR. Stores the received rate in
# THROUGHPUT[PATH_NAME], in Mbit/s.
iperf_run() {
	local name=$1 client=$2 server_ns=$3 addr=$4 server i json=$WORK/iperf-$1.json

	topo_bg "$server_ns" "$WORK/iperf-server.log" iperf3 -s -1 -p "$IPERF_PORT" || return
	server=$TOPO_BG_PID
	for ((i = 0; i < 100; i++)); do
		[[ -n $(topo_exec "$server_ns" ss -Hltn "sport = :$IPERF_PORT") ]] && break
		sleep 0.03
	done
	if ! topo_exec "$client" iperf3 -c "$addr" -p "$IPERF_PORT" -t "$IPERF_SECONDS" -J >"$json"; then
		fail "iperf3 over $name to $addr failed: $(jq -r '.error // empty' "$json" 2>/dev/null)"
		kill -TERM "$server" 2>/dev/null
		wait "$server" 2>/dev/null
		return 1
	fi
	wait "$server" 2>/dev/null
	# shellcheck disable=SC2034 # read in report.sh
	THROUGHPUT[$name]=$(jq '.end.sum_received.bits_per_second / 1e6 * 10 | round / 10' "$json")
}

# Usage: wg_side NAME LOCAL_IF LOCAL_VIP PEER_PUBKEY PEER_VIP PEER_ADDR
# Starts wireguard-go in namespace NAME and configures it with wg and ip.
wg_side() {
	local name=$1 ifname=$2 vip=$3 peer_pub=$4 peer_vip=$5 peer_addr=$6 i

	# WG_PROCESS_FOREGROUND=1 keeps wireguard-go from printing its banner
	# that recommends the kernel module, which this kernel lacks
	# ("ip link add type wireguard" fails).
	topo_bg "$name" "$WORK/wg-$name.log" env WG_PROCESS_FOREGROUND=1 wireguard-go -f "$ifname" ||
		return
	for ((i = 0; i < 100; i++)); do
		[[ -S /var/run/wireguard/$ifname.sock ]] && break
		sleep 0.03
	done
	topo_exec "$name" wg set "$ifname" listen-port 51820 private-key "$WORK/wg-$name.key" \
		peer "$peer_pub" allowed-ips "$peer_vip/32" endpoint "$peer_addr:51820" || return
	topo_exec "$name" ip address add "$vip/25" dev "$ifname" || return
	topo_exec "$name" ip link set dev "$ifname" up
}

# Sets up wireguard-go between a and c, configured by hand with wg and ip.
wg_setup() {
	local side

	WG_IF=("wgb$$a" "wgb$$c")
	for side in a c; do
		(umask 077 && wg genkey >"$WORK/wg-$side.key") || return
		wg pubkey <"$WORK/wg-$side.key" >"$WORK/wg-$side.pub" || return
	done
	wg_side a "${WG_IF[0]}" 198.51.100.129 "$(cat "$WORK/wg-c.pub")" 198.51.100.130 203.0.113.52 &&
		wg_side c "${WG_IF[1]}" 198.51.100.130 "$(cat "$WORK/wg-a.pub")" 198.51.100.129 203.0.113.51
}

measure_throughput() {
	iperf_run bare a c 203.0.113.52
	if topo_exec a ping -c 1 -W 3 "${VIP[c]}" >/dev/null; then
		iperf_run ntm a c "${VIP[c]}"
	else
		fail "ping from ${FQDN[a]} to ${VIP[c]} failed: no tunnel for iperf3"
		show_log a
	fi
	if wg_setup; then
		iperf_run wireguard_go a c 198.51.100.130
	else
		fail "setting up wireguard-go between a and c failed"
	fi
}
