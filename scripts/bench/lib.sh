# shellcheck shell=bash
# Preparation, topology and daemon control for scripts/bench.sh. This file
# sources measure.sh, relay.sh, dlna.sh and report.sh from its directory.
#
# Topology (tests/netns/topo.sh; every address is a documentation address):
#
#   Internet 203.0.113.0/24:  dc .20, a .51, c .52,
#                             home-gw .10 (NAT), pub1-gw .13, pub2-gw .14
#   home  192.0.2.0/26   behind home-gw (NAT): b .2, the mover m at .3
#   pub1  192.0.2.128/26 routed by pub1-gw, no NAT: m starts at .130
#   pub2  192.0.2.192/26 routed by pub2-gw, no NAT: m moves to .194
#
# pub1 and pub2 stand for two public networks: their addresses are reached
# from the Internet without translation, through routes on dc, a and c.
# VIPs come from 198.51.100.0/25. wireguard-go uses 198.51.100.128/25.
# relay.sh adds the relay server and four NATed LANs. dlna.sh adds the
# DLNA Agent and the media server to home, and the player to natp1.

# shellcheck source=tests/netns/topo.sh
. "$REPO/tests/netns/topo.sh"
# shellcheck source=scripts/deps.sh
. "$REPO/scripts/deps.sh"
# shellcheck source=scripts/bench/measure.sh
. "$BENCH_DIR/measure.sh"
# shellcheck source=scripts/bench/relay.sh
. "$BENCH_DIR/relay.sh"
# shellcheck source=scripts/bench/dlna.sh
. "$BENCH_DIR/dlna.sh"
# shellcheck source=scripts/bench/report.sh
. "$BENCH_DIR/report.sh"

readonly BENCH_DOMAIN=bench.example
readonly BENCH_VIP_PREFIX=198.51.100.0/25
readonly DC_ADDR=203.0.113.20
readonly NODE_ADMIN_PORT=47881
readonly DC_ADMIN_PORT=47880
readonly PROBE=$BENCH_DIR/probe.py
# Log level of the node agents. debug logs every dropped packet, which helps
# to reproduce a failure (with --keep-logs) but costs time in the
# measurements.
readonly NODE_LOG_LEVEL=${NTM_BENCH_LOG_LEVEL:-info}

# Per-run work directory: keys, configurations, logs, probe output.
WORK=
# Interpreter of probe.py: Debian's python3, which apt-get installs.
PYTHON=
# Messages of the steps that failed; main exits 1 when there is any.
FAILURES=()

declare -gA FQDN=() VIP=() NODE_PID=()

# Interfaces of the mover, one veth into each LAN, attached in advance so
# that a move changes only addresses and routes (tests/netns/README.md).
declare -gA M_IF=([pub1]=eth0 [pub2]=eth1 [home]=eth2)
declare -gA M_ADDR=([pub1]=192.0.2.130/26 [pub2]=192.0.2.194/26 [home]=192.0.2.3/26)
declare -gA M_GATEWAY=([pub1]=192.0.2.129 [pub2]=192.0.2.193 [home]=192.0.2.1)
# The LAN the mover is in now.
M_LAN=pub1

# Usage: fail MESSAGE: records a step that failed to run and goes on.
fail() {
	FAILURES+=("$*")
	echo "bench: $*" >&2
}

# Usage: show_log NAME: prints the last lines of a daemon's log to stderr,
# so that a failure can be reproduced from the output alone.
show_log() {
	[[ -s $WORK/$1.log ]] || return 0
	echo "--- last lines of $1.log ---" >&2
	tail -n 15 "$WORK/$1.log" >&2
}

bench_on_exit() {
	local status=$? name

	# topo_cleanup ran before this trap and ended wireguard-go. A process
	# killed by SIGKILL leaves its UAPI socket behind.
	for name in "${WG_IF[@]}"; do
		rm -f -- "/var/run/wireguard/$name.sock"
	done
	[[ -n $WORK ]] || return "$status"
	if [[ -n $KEEP_LOGS ]] && mkdir -p -- "$KEEP_LOGS"; then
		cp -- "$WORK"/*.log "$WORK"/*.out "$KEEP_LOGS"/ 2>/dev/null
		echo "bench: logs copied to $KEEP_LOGS" >&2
	fi
	rm -rf -- "$WORK"
	return "$status"
}

# Usage: ms_of_us MICROSECONDS: prints milliseconds with 3 decimals.
ms_of_us() {
	local us=$1 sign=

	if ((us < 0)); then
		sign=-
		us=$((-us))
	fi
	printf '%s%d.%03d\n' "$sign" $((us / 1000)) $((us % 1000))
}

bench_build() {
	echo "bench: building ntm-dcd, ntm-rsd, ntm-noded, ntm-ssdpd, ntm-dad and ntm-keygen into $BUILD (Release)" >&2
	if cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"$WORK/build.log" 2>&1 &&
		cmake --build "$BUILD" -j2 --target ntm-dcd ntm-rsd ntm-noded ntm-ssdpd ntm-dad \
			ntm-keygen >>"$WORK/build.log" 2>&1; then
		return 0
	fi
	tail -n 30 "$WORK/build.log" >&2
	return 1
}

# Creates the work directory and the exit trap (before topo_init, so that
# the library's cleanup runs first), installs packages, builds the daemons
# and the load tools, and makes the admin token and the DC key.
bench_prepare() {
	WORK=$(mktemp -d /tmp/ntm-bench.XXXXXX) || return
	trap bench_on_exit EXIT
	ntm_install_deps || return
	PYTHON=/usr/bin/python3
	[[ -x $PYTHON ]] || PYTHON=$(command -v python3) || return
	if ((DO_BUILD)); then
		bench_build || return
	fi
	bench_build_tools || return
	head -c 32 /dev/urandom | base64 >"$WORK/admin.token"
	chmod 600 "$WORK/admin.token"
	"$BUILD/admin-api/ntm-keygen" "$WORK/dc.key" >/dev/null
}

# Usage: public_network NAME ROUTER_PUBLIC_IP GATEWAY/PREFIX
# A LAN with a router that forwards without NAT.
public_network() {
	topo_lan "$1" || return
	topo_router "$1-gw" || return
	topo_internet_attach "$1-gw" "$2/24" wan0 || return
	topo_attach "$1-gw" "$1" "$3" lan0
}

bench_topology() {
	local host

	topo_init || return
	topo_host dc && topo_internet_attach dc "$DC_ADDR/24" eth0 || return
	topo_host a && topo_internet_attach a 203.0.113.51/24 eth0 || return
	topo_host c && topo_internet_attach c 203.0.113.52/24 eth0 || return
	topo_home_network home 203.0.113.10 192.0.2.0/26 || return
	topo_host b && topo_attach b home 192.0.2.2/26 eth0 || return
	topo_default_route b "$TOPO_GATEWAY" || return
	public_network pub1 203.0.113.13 192.0.2.129/26 || return
	public_network pub2 203.0.113.14 192.0.2.193/26 || return
	for host in dc a c; do
		topo_exec "$host" ip route add 192.0.2.128/26 via 203.0.113.13 || return
		topo_exec "$host" ip route add 192.0.2.192/26 via 203.0.113.14 || return
	done

	topo_host m || return
	topo_attach m pub1 "${M_ADDR[pub1]}" "${M_IF[pub1]}" || return
	topo_default_route m "${M_GATEWAY[pub1]}" || return
	topo_attach m pub2 - "${M_IF[pub2]}" || return
	topo_attach m home - "${M_IF[home]}" || return
	relay_topology || return
	dlna_topology
}

# Usage: api NS PORT PATH [CURL_ARGS...]: a request to an admin API in NS.
api() {
	local ns=$1 port=$2 path=$3
	shift 3
	topo_exec "$ns" curl -sS -m 3 -H "Authorization: Bearer $(cat "$WORK/admin.token")" \
		-H 'Content-Type: application/json' "$@" "http://127.0.0.1:$port$path"
}

# Usage: node_api NAME PATH
node_api() {
	api "$1" "$NODE_ADMIN_PORT" "$2"
}

# Usage: wait_http NS PORT: waits up to 5 s for /healthz.
wait_http() {
	local i

	for ((i = 0; i < 100; i++)); do
		topo_exec "$1" curl -sf -m 1 "http://127.0.0.1:$2/healthz" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

# Usage: wait_registered NAME: waits up to 5 s for the node to register.
wait_registered() {
	local i

	for ((i = 0; i < 100; i++)); do
		node_api "$1" /v1/status 2>/dev/null | jq -e '.registered' >/dev/null && return 0
		sleep 0.05
	done
	return 1
}

start_dc() {
	cat >"$WORK/dcd.conf" <<-CONF
		[dc]
		domain = $BENCH_DOMAIN
		listen = $DC_ADDR:47800
		private_key_file = $WORK/dc.key
		database = $WORK/dcd.sqlite
		vip_prefix = $BENCH_VIP_PREFIX
		log_level = info
		[admin]
		listen = 127.0.0.1:$DC_ADMIN_PORT
		token_file = $WORK/admin.token
		$(dc_relay_section)
	CONF
	topo_bg dc "$WORK/dc.log" "$BUILD/dcd/ntm-dcd" -f -c "$WORK/dcd.conf" || return
	wait_http dc "$DC_ADMIN_PORT" && return 0
	show_log dc
	return 1
}

# Usage: enrol_node NAME: makes the node's key and configuration, enrols
# it at the DC and stores its FQDN and VIP.
enrol_node() {
	local name=$1 fqdn=$1.$BENCH_DOMAIN record

	"$BUILD/admin-api/ntm-keygen" "$WORK/$name.key" >/dev/null || return
	record=$(api dc "$DC_ADMIN_PORT" /v1/nodes -X POST \
		-d "{\"fqdn\":\"$fqdn\",\"public_key\":\"$(cat "$WORK/$name.key.pub")\"}") || return
	VIP[$name]=$(jq -er .vip <<<"$record") || {
		echo "bench: enrolment of $fqdn failed: $record" >&2
		return 1
	}
	FQDN[$name]=$fqdn
	# No DNS server: the benchmark addresses peers by VIP. Rekeying is
	# pushed past the run (rekey_after in seconds), so that no rekey
	# handshake falls into a measurement. The namespaces share one file
	# system, so each node gets its own IPC socket in the work directory.
	cat >"$WORK/$name.conf" <<-CONF
		[node]
		fqdn = $fqdn
		private_key_file = $WORK/$name.key
		dc = $DC_ADDR:47800
		dc_public_key = $(cat "$WORK/dc.key.pub")
		tun_name = ntm0
		rekey_after = 3600
		log_level = $NODE_LOG_LEVEL
		[dns]
		listen =
		[ipc]
		path = ipc://$WORK/$name.ipc
		[admin]
		listen = 127.0.0.1:$NODE_ADMIN_PORT
		token_file = $WORK/admin.token
	CONF
}

# Usage: start_node NAME: starts ntm-noded in NAME's namespace and waits
# until it is registered.
start_node() {
	local name=$1

	topo_bg "$name" "$WORK/$name.log" "$BUILD/nodeagent/ntm-noded" -f -c "$WORK/$name.conf" ||
		return
	NODE_PID[$name]=$TOPO_BG_PID
	if wait_http "$name" "$NODE_ADMIN_PORT" && wait_registered "$name"; then
		return 0
	fi
	fail "ntm-noded ${FQDN[$name]} did not start and register within 10 s"
	show_log "$name"
	return 1
}

# Usage: stop_node NAME: stops the node agent with SIGTERM, and SIGKILL
# after 3 s.
stop_node() {
	local pid=${NODE_PID[$1]-} i

	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 60; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		fail "ntm-noded ${FQDN[$1]} (pid $pid) ignored SIGTERM for 3 s; killed"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	NODE_PID[$1]=
}

# Usage: restart_node NAME: starts a fresh node agent, without any tunnel.
restart_node() {
	stop_node "$1"
	start_node "$1"
}

bench_start_daemons() {
	local name

	start_rs || return
	start_dc || return
	for name in a b c m; do
		enrol_node "$name" || return
	done
	for name in a b c m; do
		start_node "$name" || return
	done
}

# Usage: wait_ready FILE: waits up to 3 s for a probe receiver's "ready".
wait_ready() {
	local i

	for ((i = 0; i < 300; i++)); do
		grep -q '^ready$' "$1" 2>/dev/null && return 0
		sleep 0.01
	done
	return 1
}
