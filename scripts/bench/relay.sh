# shellcheck shell=bash
# The relay measurements of scripts/bench.sh: ntm-rsd on the Internet, four
# NATed LANs with one node each, TCP throughput over a punched and over a
# relayed tunnel, and the forwarding rate of ntm-rsd next to udpfwd.c, a
# minimal recvfrom/sendto loop.
#
# Topology added to the one in lib.sh (tests/netns/topo.sh):
#
#   Internet 203.0.113.0/24:  rs .5, natp1-gw .21, natp2-gw .22 (port-preserving NAT),
#                             natr1-gw .23, natr2-gw .24 (port-randomising NAT)
#   natp1 192.0.2.64/28: p1 .66     natp2 192.0.2.80/28:  p2 .82
#   natr1 192.0.2.96/28: r1 .98     natr2 192.0.2.112/28: r2 .114

readonly RS_ADDR=203.0.113.5
readonly RS_PORT=47820
readonly RS_ALLOC_PORT=47821
readonly RS_ADMIN_PORT=47882
# Packets per second one relay session may forward, both directions
# together ([rs] max_pps_per_session). The default of 10000 would hold a
# relayed TCP stream with its ACKs below about 110 Mbit/s (10000 packets of
# 1400 bytes) and the forwarding rate at 10000 packets/s, so the benchmark
# raises it far above what this machine forwards.
readonly RS_MAX_PPS=1000000
# shellcheck disable=SC2034 # read in report.sh
readonly RS_DEFAULT_MAX_PPS=10000
# UDP port of the node agents, and of the load tool that takes their place.
readonly NODE_PORT=47830
# UDP port of udpfwd in the relay's namespace.
readonly UDPFWD_PORT=47840
# Forwarding rate: UDP payload size in bytes (a relay data header, an
# inner data header, 20 zero bytes and a zero tag), the sending time of one
# run in seconds, and the runs through each forwarder.
readonly FORWARD_PAYLOAD_BYTES=64
readonly FORWARD_SECONDS=3
readonly FORWARD_REPS=3
# Clock ticks per second of /proc/PID/stat.
CLOCK_TICKS=$(getconf CLK_TCK)
# CPU affinity of the forwarding runs on a machine with two or more CPUs:
# the forwarder alone on CPU 1, the load tool's sender and receiver on
# CPU 0, so that each forwarder gets one core, whatever the scheduler does.
readonly FORWARDER_CPU=1
readonly LOAD_CPU=0
# "taskset -c CPU" prefixes for the load tools and udpfwd, empty on one CPU.
LOAD_PIN=()
FORWARDER_PIN=()

declare -gA NAT_PREFIX=([p1]=192.0.2.64/28 [p2]=192.0.2.80/28 [r1]=192.0.2.96/28
	[r2]=192.0.2.112/28)
declare -gA NAT_PUBLIC=([p1]=203.0.113.21 [p2]=203.0.113.22 [r1]=203.0.113.23
	[r2]=203.0.113.24)
declare -gA NAT_HOST=([p1]=192.0.2.66/28 [p2]=192.0.2.82/28 [r1]=192.0.2.98/28
	[r2]=192.0.2.114/28)

# Path of each measured tunnel as GET /v1/tunnels reports it (direct,
# punched, relayed). The forwarding rates go to SAMPLES (measure.sh).
declare -gA TUNNEL_PATH=()
# drops.rate_limited of ntm-rsd at the end of the relay measurements.
RS_RATE_LIMITED=
# PID of ntm-rsd, for its CPU time.
RS_PID=
# The 1-minute load average just before the forwarding runs.
FORWARD_LOAD_AVERAGE=
# Results of the last forward_run.
RUN_SENT=
RUN_SECONDS=
RUN_RECEIVED=
RUN_SOCKET_DROPS=
RUN_USER_TICKS=
RUN_SYSTEM_TICKS=

# Compiled load tools, in the work directory.
UDPFWD=
UDPLOAD=

# Compiles udpfwd.c and udpload.c with the system's cc.
bench_build_tools() {
	local tool

	for tool in udpfwd udpload; do
		if ! cc -std=c17 -O2 -Wall -Wextra -o "$WORK/$tool" "$BENCH_DIR/$tool.c" \
			>>"$WORK/build.log" 2>&1; then
			tail -n 20 "$WORK/build.log" >&2
			return 1
		fi
	done
	UDPFWD=$WORK/udpfwd
	UDPLOAD=$WORK/udpload
}

# Usage: relay_topology: adds the relay's host and the four NATed LANs.
relay_topology() {
	local name mode

	topo_host rs && topo_internet_attach rs "$RS_ADDR/24" eth0 || return
	for name in p1 p2 r1 r2; do
		mode=
		[[ $name == r* ]] && mode=random
		topo_home_network "nat$name" "${NAT_PUBLIC[$name]}" "${NAT_PREFIX[$name]}" $mode ||
			return
		topo_host "$name" && topo_attach "$name" "nat$name" "${NAT_HOST[$name]}" eth0 || return
		topo_default_route "$name" "$TOPO_GATEWAY" || return
	done
}

# Usage: rs_api PATH: a request to the admin API of ntm-rsd.
rs_api() {
	api rs "$RS_ADMIN_PORT" "$1"
}

# Starts ntm-rsd with a key of its own, accepting allocations from the DC.
start_rs() {
	"$BUILD/admin-api/ntm-keygen" "$WORK/rs.key" >/dev/null || return
	cat >"$WORK/rsd.conf" <<-CONF
		[rs]
		listen = $RS_ADDR:$RS_PORT
		public_endpoint = $RS_ADDR:$RS_PORT
		private_key_file = $WORK/rs.key
		log_level = info
		max_pps_per_session = $RS_MAX_PPS
		[alloc]
		listen = $RS_ADDR:$RS_ALLOC_PORT
		[admin]
		listen = 127.0.0.1:$RS_ADMIN_PORT
		token_file = $WORK/admin.token
		[dc $BENCH_DOMAIN]
		public_key = $(cat "$WORK/dc.key.pub")
	CONF
	topo_bg rs "$WORK/rs.log" "$BUILD/rsd/ntm-rsd" -f -c "$WORK/rsd.conf" || return
	RS_PID=$TOPO_BG_PID
	wait_http rs "$RS_ADMIN_PORT" && return 0
	show_log rs
	return 1
}

# Prints the [relay] section of the DC's configuration.
dc_relay_section() {
	printf '[relay rs]\nendpoint = %s:%s\npublic_key = %s\n' "$RS_ADDR" "$RS_ALLOC_PORT" \
		"$(cat "$WORK/rs.key.pub")"
}

# Usage: wait_relay_up: waits up to 10 s for the DC to report ntm-rsd up.
wait_relay_up() {
	local i

	for ((i = 0; i < 200; i++)); do
		# shellcheck disable=SC2153 # DC_ADMIN_PORT is set in lib.sh
		api dc "$DC_ADMIN_PORT" /v1/relays 2>/dev/null |
			jq -e '.relays[0].up == true' >/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# Usage: tunnel_path INITIATOR PEER: the path field of the tunnel.
tunnel_path() {
	local tunnel

	tunnel=$(tunnel_json "$1" "$2") || return
	jq -r .path <<<"$tunnel"
}

# Usage: wait_path CLIENT SERVER EXPECTED: waits up to 10 s for the tunnel
# to take the EXPECTED path. Hole punching starts with the Route Direction,
# and tests/system/test_relay.sh expects the punched path after 1.5 s.
wait_path() {
	local i

	for ((i = 0; i < 100; i++)); do
		[[ $(tunnel_path "$1" "$2" 2>/dev/null) == "$3" ]] && return 0
		sleep 0.1
	done
	return 1
}

# Usage: relay_pair_throughput NAME CLIENT SERVER: iperf3 TCP from CLIENT
# to the VIP of SERVER once the tunnel has the path NAME (punched or
# relayed). Stores the path that the client reports after the run.
relay_pair_throughput() {
	local name=$1 client=$2 server=$3

	if ! topo_exec "$client" ping -c 1 -W 3 "${VIP[$server]}" >/dev/null; then
		fail "ping from ${FQDN[$client]} to ${VIP[$server]} failed: no $name tunnel for iperf3"
		show_log "$client"
		return 1
	fi
	if ! wait_path "$client" "$server" "$name"; then
		fail "the tunnel ${FQDN[$client]} -> ${FQDN[$server]} has path '$(tunnel_path "$client" "$server")' after 10 s, expected $name"
		show_log "$client"
		return 1
	fi
	iperf_run "$name" "$client" "$server" "${VIP[$server]}" || return
	TUNNEL_PATH[$name]=$(tunnel_path "$client" "$server")
	[[ ${TUNNEL_PATH[$name]} == "$name" ]] ||
		fail "the tunnel ${FQDN[$client]} -> ${FQDN[$server]} changed to path '${TUNNEL_PATH[$name]}' during iperf3"
}

# Starts the four NATed node agents and measures TCP over the punched path
# (port-preserving NATs) and the relayed path (port-randomising NATs).
measure_relay_throughput() {
	local name

	TUNNEL_PATH[direct]=$(tunnel_path a c)
	for name in p1 p2 r1 r2; do
		enrol_node "$name" && start_node "$name" || return
	done
	if ! wait_relay_up; then
		fail "the DC does not report ntm-rsd up after 10 s"
		show_log dc
		show_log rs
		return
	fi
	relay_pair_throughput punched p1 p2
	relay_pair_throughput relayed r1 r2
}

# Usage: relay_session A B: prints the id of the relay session whose two
# sides are bound to the public addresses of the NATs of A and B.
relay_session() {
	rs_api /v1/sessions | jq -er --arg a "${NAT_PUBLIC[$1]}" --arg b "${NAT_PUBLIC[$2]}" '
		def ip: (. // "") | split(":")[0];
		[.sessions[] | select([(.node_a.endpoint | ip), (.node_b.endpoint | ip)] | sort
			== ([$a, $b] | sort))][0].id'
}

# Usage: rs_counter FILTER: a number from GET /v1/counters of ntm-rsd.
rs_counter() {
	rs_api /v1/counters | jq -er "$1"
}

# Usage: cpu_ticks PID: prints the user and the system time of a process
# in clock ticks (fields 14 and 15 of /proc/PID/stat), all threads together.
cpu_ticks() {
	local stat

	read -r stat <"/proc/$1/stat" || return
	# The command name in field 2 may contain spaces: drop it first, so
	# that the state (field 3) becomes field 1.
	awk '{ print $12, $13 }' <<<"${stat##*) }"
}

# Usage: forward_run NAME PORT SESSION_ID FORWARDER_PID: sends
# FORWARD_SECONDS of load from r1 to the forwarder on RS_ADDR:PORT while r2
# counts what arrives. Sets RUN_SENT, RUN_SECONDS (the sender's measured
# sending time), RUN_RECEIVED, RUN_SOCKET_DROPS (the change of UDP
# RcvbufErrors in rs: datagrams the forwarder's socket had no room for),
# RUN_USER_TICKS and RUN_SYSTEM_TICKS (the forwarder's CPU time). With
# udpfwd, the receiver's hello teaches udpfwd its first peer before the load
# starts.
forward_run() {
	local name=$1 port=$2 session=$3 pid=$4 receiver out=$WORK/forward-$1
	local -a hello=()
	local drops_before drops_after user_before system_before user_after system_after

	[[ $name == udpfwd ]] && hello=("$RS_ADDR" "$port")
	: >"$out-recv.out"
	topo_bg r2 "$out-recv.out" "${LOAD_PIN[@]}" "$UDPLOAD" recv "$NODE_PORT" \
		$((FORWARD_SECONDS + 10)) "${hello[@]}" || return
	receiver=$TOPO_BG_PID
	if ! wait_ready "$out-recv.out"; then
		fail "forwarding rate, $name: the receiver in r2 did not start: $(cat "$out-recv.out")"
		stop_process "$receiver"
		return 1
	fi
	if [[ $name == udpfwd ]] && ! wait_peers 1; then
		fail "forwarding rate, udpfwd did not learn the receiver in r2 as a peer within 3 s"
		stop_process "$receiver"
		return 1
	fi

	drops_before=$(snmp_counter rs Udp RcvbufErrors) || return
	read -r user_before system_before < <(cpu_ticks "$pid") || return
	if ! topo_exec r1 "${LOAD_PIN[@]}" "$UDPLOAD" send "$NODE_PORT" "$RS_ADDR" "$port" \
		"$FORWARD_SECONDS" "$FORWARD_PAYLOAD_BYTES" "$session" >"$out-send.out" 2>&1; then
		fail "forwarding rate, $name: the load sender in r1 failed: $(cat "$out-send.out")"
	fi
	wait "$receiver"
	drops_after=$(snmp_counter rs Udp RcvbufErrors) || return
	read -r user_after system_after < <(cpu_ticks "$pid") || return

	read -r _ RUN_SENT _ RUN_SECONDS _ <"$out-send.out"
	RUN_RECEIVED=$(awk '$1 == "received" { print $2 }' "$out-recv.out")
	RUN_SOCKET_DROPS=$((drops_after - drops_before))
	RUN_USER_TICKS=$((user_after - user_before))
	RUN_SYSTEM_TICKS=$((system_after - system_before))
	if [[ ! $RUN_SENT =~ ^[0-9]+$ || ! $RUN_SECONDS =~ ^[0-9]+\.[0-9]+$ ||
		! $RUN_RECEIVED =~ ^[0-9]+$ ]]; then
		fail "forwarding rate, $name: no counts from the load tools: $(cat "$out-send.out" "$out-recv.out")"
		return 1
	fi
}

# Usage: ratio_of A B DECIMALS: prints A / B, or null when B is 0.
ratio_of() {
	awk -v a="$1" -v b="$2" -v d="$3" 'BEGIN { if (b == 0) print "null"; else printf "%.*f\n", d, a / b }'
}

# Usage: forward_record NAME FORWARDED: adds the samples of the last
# forward_run, with the count of datagrams that the forwarder sent on.
forward_record() {
	local name=$1 forwarded=$2 key value
	local -A values

	# Rates are counts divided by the sender's sending time.
	values=(
		[sent_pps]=$(ratio_of "$RUN_SENT" "$RUN_SECONDS" 0)
		[forwarded_pps]=$(ratio_of "$forwarded" "$RUN_SECONDS" 0)
		[received_pps]=$(ratio_of "$RUN_RECEIVED" "$RUN_SECONDS" 0)
		[socket_drops]=$RUN_SOCKET_DROPS
		[user_cpu_s]=$(ratio_of "$RUN_USER_TICKS" "$CLOCK_TICKS" 2)
		[system_cpu_s]=$(ratio_of "$RUN_SYSTEM_TICKS" "$CLOCK_TICKS" 2)
	)
	for key in "${!values[@]}"; do
		value=${values[$key]}
		[[ $value == null ]] || add_sample "forwarding.$name.$key" "$value"
	done
}

# Usage: stop_process PID: ends a process that topo_bg started.
stop_process() {
	kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# Usage: wait_peers COUNT: waits up to 3 s for udpfwd to report COUNT peers.
wait_peers() {
	local i

	for ((i = 0; i < 300; i++)); do
		(($(grep -c '^peer ' "$WORK/udpfwd.out") >= $1)) && return 0
		sleep 0.01
	done
	return 1
}

# Sets LOAD_PIN and FORWARDER_PIN and moves every thread of ntm-rsd to
# FORWARDER_CPU, when the machine has two CPUs or more.
pin_forwarding() {
	(($(nproc) >= 2)) || return 0
	LOAD_PIN=(taskset -c "$LOAD_CPU")
	FORWARDER_PIN=(taskset -c "$FORWARDER_CPU")
	if ! taskset -a -p -c "$FORWARDER_CPU" "$RS_PID" >/dev/null; then
		fail "taskset could not move ntm-rsd (pid $RS_PID) to CPU $FORWARDER_CPU"
		return 1
	fi
}

# Usage: forward_rs SESSION_ID: one run through ntm-rsd.
forward_rs() {
	local before after

	before=$(rs_counter .forwarded.packets) || return
	forward_run rs "$RS_PORT" "$1" "$RS_PID" || return
	after=$(rs_counter .forwarded.packets) || return
	forward_record rs $((after - before))
}

# Usage: forward_udpfwd SESSION_ID: one run through a new udpfwd in rs.
forward_udpfwd() {
	local pid forwarded status=0

	: >"$WORK/udpfwd.out"
	topo_bg rs "$WORK/udpfwd.out" "${FORWARDER_PIN[@]}" "$UDPFWD" "$RS_ADDR" "$UDPFWD_PORT" \
		$((FORWARD_SECONDS + 20)) || return
	pid=$TOPO_BG_PID
	if ! wait_ready "$WORK/udpfwd.out"; then
		fail "udpfwd did not start in rs: $(cat "$WORK/udpfwd.out")"
		stop_process "$pid"
		return 1
	fi
	forward_run udpfwd "$UDPFWD_PORT" "$1" "$pid" || status=1
	stop_process "$pid"
	((status == 0)) || return 1
	forwarded=$(awk '$1 == "forwarded" { print $2 }' "$WORK/udpfwd.out")
	if [[ ! $forwarded =~ ^[0-9]+$ ]]; then
		fail "udpfwd printed no count at exit: $(cat "$WORK/udpfwd.out")"
		return 1
	fi
	forward_record udpfwd "$forwarded"
}

# Measures the forwarding rate of ntm-rsd in the relay session that r1 and
# r2 bound, alternating with udpfwd in the same namespace, so that a change
# in the machine's load falls on both. It first stops the node agents of r1
# and r2, so that the load tool can send from their UDP port. The NATs keep
# their mappings. So the load leaves natr1-gw from the address that the
# session has bound, and reaches r2 through the mapping that r2's agent
# opened.
measure_forwarding() {
	local session rep

	if ! session=$(relay_session r1 r2); then
		fail "ntm-rsd lists no session bound to ${NAT_PUBLIC[r1]} and ${NAT_PUBLIC[r2]}: $(rs_api /v1/sessions)"
		return
	fi
	stop_node r1
	stop_node r2
	pin_forwarding || return
	# shellcheck disable=SC2034 # read in report.sh
	FORWARD_LOAD_AVERAGE=$(cut -d ' ' -f 1 /proc/loadavg)
	for ((rep = 1; rep <= FORWARD_REPS; rep++)); do
		forward_rs "$session" || fail "forwarding rate, ntm-rsd: repetition $rep failed"
		forward_udpfwd "$session" || fail "forwarding rate, udpfwd: repetition $rep failed"
	done
	# shellcheck disable=SC2034 # read in report.sh
	RS_RATE_LIMITED=$(rs_counter .drops.rate_limited)
}
