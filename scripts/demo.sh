#!/usr/bin/env bash
# Shows the suite at work on this machine, as root on Debian 12. It installs
# what is missing, builds, and runs two parts:
#   1. A Direction Coordinator (DC) on loopback with scripted nodes: enrolment,
#      registration, NAT detection, NTM queries and the route the DC chooses
#      in each of its four route cases.
#   2. The real daemons in network namespaces (tests/netns/topo.sh): a DC on
#      an emulated Internet, node "agent" behind a home NAT and node "player"
#      behind the NAT of another network. The player pings the agent's VIP,
#      downloads 20 MiB from it over TCP and moves to a third network
#      mid-transfer. The download must arrive byte-identical.
# Everything it starts is stopped and removed on exit, also on Ctrl-C or
# failure, unless --keep leaves part 2 running.
#
# Usage: scripts/demo.sh [--check | --keep | --down | --help]
# With NTM_BUILD=DIR set it uses the binaries in DIR and neither installs
# packages nor builds. Exit status: 0 when every step passed, 1 when a step
# failed, 2 for an invalid command line, 130 after Ctrl-C.
set -uo pipefail

# shellcheck source=scripts/deps.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/deps.sh"
# shellcheck source=tests/netns/topo.sh
source "$NTM_REPO_ROOT/tests/netns/topo.sh"

readonly DOMAIN=home.example
readonly AGENT=agent.$DOMAIN
readonly PLAYER=player.$DOMAIN
readonly DOWNLOAD_MIB=20
# The player moves once this much of the download has arrived.
readonly MOVE_AFTER_BYTES=$((5 * 1024 * 1024))
# The rate of the player's links stretches the download to about 4 s, so
# the move falls well inside it.
readonly PLAYER_RATE=40mbit
readonly DOWNLOAD_PORT=5001
# Tunnel re-creation after a move in the NTMobile remote-DLNA prototype from
# Meijo University (Shimizu, Suzuki, Naito and Watanabe, IPSJ Journal, 2014),
# Table II: 0.08 s.
readonly PROTOTYPE_RECREATE_MS=80
# ntm-noded retransmits an unanswered Tunnel Request after this many ms.
readonly HANDSHAKE_RETRY_MS=250
# A topology left by --keep gets this namespace prefix instead of
# ntmt-<pid>-, because scripts/test.sh removes every ntmt-<pid>-* namespace
# whose process has exited.
readonly KEEP_PREFIX=ntmdemo-
readonly STATE_FILE=/run/ntm-demo.state
# route_case in GET /v1/tunnels (docs/protocol.md, section 9).
readonly -a ROUTE_CASE_NAMES=([1]="the peer is global" [2]="the NAT side opens"
	[3]="same NAT" [4]="two NATs")

MODE=show
BUILD=${NTM_BUILD:-$NTM_REPO_ROOT/build-demo}
WORK=
KEEP_WORK=0
PASSED=0
FAILED=0
# Processes of part 1, which runs on loopback in the script's own network
# namespace.
LOOPBACK_PIDS=()
# The daemons of part 2.
NS_DAEMON_PIDS=()

usage() {
	cat <<'EOF'
Usage: scripts/demo.sh [--check | --keep | --down | --help]

Runs the demo as root: a DC with scripted nodes on loopback, then the real
daemons in network namespaces, where the player moves during a download.

  (no option)  run the demo with progress lines
  --check      run it quietly and print one "ok -" or "not ok -" line per
               step and a closing "N passed, N failed" line
  --keep       run the demo, then leave the namespaces and daemons of part 2
               running and print how to use them
  --down       remove a topology that --keep left running
  --help       print this help

With NTM_BUILD=DIR the binaries come from DIR, and no package is installed
and nothing is built. Otherwise the missing Debian packages are installed
and the daemons are built into build-demo/.
EOF
}

# --- Output and step results ---------------------------------------------------

# progress TEXT...: prints a progress line, unless --check.
progress() {
	[[ $MODE == check ]] || printf '%s\n' "$*"
}

# heading TEXT...: prints the title of a group of steps, unless --check.
heading() {
	[[ $MODE == check ]] || printf '\n== %s\n' "$*"
}

# explain TEXT...: prints why a step failed, on stderr in every mode.
explain() {
	printf '# %s\n' "$*" >&2
}

pass() {
	PASSED=$((PASSED + 1))
	[[ $MODE != check ]] || echo "ok - $1"
}

fail() {
	FAILED=$((FAILED + 1))
	if [[ $MODE == check ]]; then
		echo "not ok - $1"
	else
		echo "FAILED: $1" >&2
	fi
}

# check NAME CMD...: runs CMD as one step and records its outcome.
check() {
	local name=$1
	shift
	if "$@"; then
		pass "$name"
		return 0
	fi
	fail "$name"
	return 1
}

# require NAME CMD...: like check, but a failure ends the demo, because
# every later step depends on this one.
require() {
	check "$@" && return 0
	finish
	exit 1
}

# finish: prints the daemon logs after a failure and the closing line.
# Fails when a step failed.
finish() {
	if ((FAILED > 0)); then
		dump_logs >&2
	fi
	if [[ $MODE == check ]]; then
		echo "$PASSED passed, $FAILED failed"
	elif ((FAILED == 0)); then
		heading "Done: all $PASSED steps passed"
	fi
	((FAILED == 0))
}

dump_logs() {
	local log

	[[ -n $WORK ]] || return 0
	for log in "$WORK"/*/*.log; do
		[[ -s $log ]] || continue
		echo "--- last lines of ${log#"$WORK"/}"
		tail -n 25 -- "$log"
	done
}

# us_to_ms MICROSECONDS: prints the value in ms with three decimals.
us_to_ms() {
	printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000))
}

# wait_for TIMEOUT_S CMD...: runs CMD every 0.1 s until it succeeds, or
# fails after TIMEOUT_S seconds.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift

	until "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

file_size() {
	stat -c %s -- "$1" 2>/dev/null || echo 0
}

# --- Set-up and cleanup --------------------------------------------------------

on_exit() {
	lo_stop
	if [[ -n $WORK && $KEEP_WORK == 0 ]]; then
		rm -rf -- "$WORK"
	fi
}

check_binaries() {
	local bin

	for bin in dcd/ntm-dcd nodeagent/ntm-noded admin-api/ntm-keygen \
		tests/integration/ntm-scriptnode; do
		[[ -x $BUILD/$bin ]] && continue
		explain "$BUILD/$bin not found; build the suite there, or unset NTM_BUILD"
		return 1
	done
}

# Builds only the four programs the demo runs, so that work in progress
# elsewhere in the tree cannot stop it.
build() {
	ntm_install_deps || return
	cmake -S "$NTM_REPO_ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || return
	cmake --build "$BUILD" -j2 --target ntm-dcd ntm-noded ntm-keygen ntm-scriptnode >/dev/null
}

prepare() {
	if [[ -z ${NTM_BUILD-} ]]; then
		heading "Installing what is missing and building (the first run takes minutes)"
		require "install packages and build into $BUILD" build
	fi
	require "binaries present in $BUILD" check_binaries
	WORK=$(mktemp -d /tmp/ntm-demo.XXXXXX) || exit 1
	mkdir -p "$WORK/loopback" "$WORK/netns" || exit 1
	# One token for every admin API of the demo. auth.header is the header
	# line for "curl -H @FILE", which keeps the token out of the process list.
	(
		umask 077
		head -c 32 /dev/urandom | base64 >"$WORK/admin.token" &&
			printf 'Authorization: Bearer %s\n' "$(cat "$WORK/admin.token")" >"$WORK/auth.header"
	) || exit 1
}

# --- Part 1: scripted nodes on loopback ------------------------------------------

free_port() {
	python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

lo_admin() {
	local method=$1 path=$2
	shift 2
	curl -sS -X "$method" -H @"$WORK/auth.header" -H 'Content-Type: application/json' \
		"$@" "http://127.0.0.1:$LO_ADMIN_PORT$path"
}

lo_start_dc() {
	local dir=$WORK/loopback

	LO_DC_PORT=$(free_port) && LO_ADMIN_PORT=$(free_port) || return
	"$BUILD/admin-api/ntm-keygen" "$dir/dc.key" >/dev/null || return
	cat >"$dir/dcd.conf" <<EOF
[dc]
domain = $DOMAIN
listen = 127.0.0.1:$LO_DC_PORT
private_key_file = $dir/dc.key
database = $dir/dcd.sqlite
vip_prefix = 198.51.100.0/24
[admin]
listen = 127.0.0.1:$LO_ADMIN_PORT
token_file = $WORK/admin.token
EOF
	"$BUILD/dcd/ntm-dcd" -f -c "$dir/dcd.conf" 2>"$dir/dcd.log" &
	LOOPBACK_PIDS+=($!)
	wait_for 5 curl -sf "http://127.0.0.1:$LO_ADMIN_PORT/healthz" -o /dev/null
}

lo_enrol() {
	local fqdn=$1 key=$WORK/loopback/$1.key line

	"$BUILD/admin-api/ntm-keygen" "$key" >/dev/null || return
	line=$(lo_admin POST /v1/nodes \
		-d "{\"fqdn\":\"$fqdn\",\"public_key\":\"$(cat "$key.pub")\"}" |
		jq -er '"enrolled \(.fqdn): VIP \(.vip)"') || return
	progress "$line"
}

# lo_node_command FQDN: sets LO_COMMAND to the scripted node's command line
# up to the options of its run.
lo_node_command() {
	LO_COMMAND=("$BUILD/tests/integration/ntm-scriptnode" --dc "127.0.0.1:$LO_DC_PORT"
		--dc-key "$(cat "$WORK/loopback/dc.key.pub")" --key "$WORK/loopback/$1.key"
		--fqdn "$1")
}

lo_node() {
	lo_node_command "$1"
	"${LO_COMMAND[@]}" "${@:2}"
}

# lo_serve FQDN BIND_IP [--report IP:PORT]: starts a scripted node that
# serves, and waits until it has registered. The node runs as a direct
# child, not inside a function's subshell, so that lo_stop kills it.
lo_serve() {
	local fqdn=$1 bind=$2 out=$WORK/loopback/$1.out
	shift 2

	lo_node_command "$fqdn"
	"${LO_COMMAND[@]}" --bind "$bind" "$@" serve --seconds 120 >"$out" 2>&1 &
	LOOPBACK_PIDS+=($!)
	wait_for 5 grep -q '^registered' "$out" || return
	progress "$(grep -m 1 '^registered' "$out")"
}

# lo_direct FQDN CASE ARGS...: runs a scripted node that requests a
# direction, prints what it received and checks the route case.
lo_direct() {
	local fqdn=$1 route_case=$2 out
	shift 2

	out=$(lo_node "$fqdn" "$@" 2>&1) || {
		explain "$out"
		return 1
	}
	progress "$out"
	grep -q "route case $route_case," <<<"$out" && return 0
	explain "expected route case $route_case in: $out"
	return 1
}

# lo_received FQDN: prints the Route Directions a serving node received.
lo_received() {
	progress "what $1's node received:"
	progress "$(grep -v '^registered' "$WORK/loopback/$1.out" | sed 's/^/  /')"
}

lo_show_records() {
	local records

	records=$(lo_admin GET /v1/records | jq -er '.records[] |
		"  \(.fqdn)  VIP \(.vip)  observed \(.observed // "-")  behind NAT: \(.behind_nat)  online: \(.online)"') ||
		return
	progress "$records"
}

# lo_stop: stops the processes of part 1. Only those are waited for, because
# the daemons of a kept part 2 are children of this shell too.
lo_stop() {
	local pid

	((${#LOOPBACK_PIDS[@]} > 0)) || return 0
	for pid in "${LOOPBACK_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	wait "${LOOPBACK_PIDS[@]}" 2>/dev/null
	LOOPBACK_PIDS=()
}

part_loopback() {
	heading "Part 1: the route the DC chooses, with scripted nodes on loopback"
	require "loopback: the DC starts" lo_start_dc
	progress "ntm-dcd for $DOMAIN listens on 127.0.0.1:$LO_DC_PORT"

	heading "Enrolling three nodes through the DC's admin API"
	require "loopback: enrol $AGENT" lo_enrol "$AGENT"
	require "loopback: enrol $PLAYER" lo_enrol "$PLAYER"
	require "loopback: enrol server.$DOMAIN" lo_enrol "server.$DOMAIN"

	heading "The DLNA Agent's node registers from 127.0.0.2 and reports a private address, so it is behind NAT"
	require "loopback: $AGENT registers behind NAT" \
		lo_serve "$AGENT" 127.0.0.2 --report 192.0.2.10:47830
	heading "A node on a global address registers from 127.0.0.4 (no NAT: it reports what the DC sees)"
	require "loopback: server.$DOMAIN registers" lo_serve "server.$DOMAIN" 127.0.0.4

	heading "The player, on a global address, asks for a tunnel to the Agent: the NATed side opens it"
	check "loopback: route case b, the NAT side opens" \
		lo_direct "$PLAYER" nat_side_opens --bind 127.0.0.1 direct "$AGENT"
	sleep 0.3

	heading "The player moves behind another NAT (observed 127.0.0.3, private address reported)"
	check "loopback: route case d, two NATs" lo_direct "$PLAYER" two_nats \
		--bind 127.0.0.3 --report 192.0.2.70:47830 direct "$AGENT"
	heading "From there it asks for a tunnel to the node on a global address: the player opens it"
	check "loopback: route case a, the peer is global" lo_direct "$PLAYER" direct \
		--bind 127.0.0.3 --report 192.0.2.70:47830 direct "server.$DOMAIN"

	heading "The player comes home: the same observed address as the Agent, so private addresses first"
	check "loopback: route case c, same NAT" lo_direct "$PLAYER" same_nat \
		--bind 127.0.0.2 --report 192.0.2.20:47830 direct "$AGENT"
	sleep 0.3
	lo_received "$AGENT"
	lo_received "server.$DOMAIN"

	heading "NTM records at the DC"
	check "loopback: the DC lists the records" lo_show_records
	lo_stop
}

# --- Part 2: real daemons in network namespaces --------------------------------

# ns_admin NS PORT PATH [CURL_ARGS...]: requests PATH from the admin API on
# 127.0.0.1:PORT in NS, with GET unless CURL_ARGS choose another method.
ns_admin() {
	topo_exec "$1" curl -sS -H @"$WORK/auth.header" -H 'Content-Type: application/json' \
		"${@:4}" "http://127.0.0.1:$2$3"
}

# status NS [JQ_FILTER]: prints the node agent's GET /v1/status in NS, or the
# raw result of JQ_FILTER on it.
status() {
	ns_admin "$1" 47881 /v1/status | jq -r "${2:-.}"
}

# tunnel NS PEER_FQDN FIELD: prints one field of the tunnel to PEER_FQDN in NS.
tunnel() {
	ns_admin "$1" 47881 /v1/tunnels |
		jq -r --arg peer "$2" --arg field "$3" '.tunnels[] | select(.peer_fqdn == $peer) | .[$field]'
}

# healthy NS PORT: succeeds when GET /healthz on 127.0.0.1:PORT in NS does.
healthy() {
	topo_exec "$1" curl -sf "http://127.0.0.1:$2/healthz" -o /dev/null
}

# Before topo_init, a kept run checks that no kept topology exists.
keep_check_free() {
	local left

	left=$(ip netns list | awk -v p="$KEEP_PREFIX" 'index($1, p) == 1 { print $1 }')
	if [[ -z $left && ! -e $STATE_FILE ]]; then
		return 0
	fi
	explain "a topology kept by an earlier 'scripts/demo.sh --keep' exists; remove it with 'scripts/demo.sh --down'"
	return 1
}

# ns_topology: the emulated Internet with the DC, and three NATed networks:
# home (the agent), foreign (the player at first) and mobile (where the
# player moves). The player's link into mobile exists from the start, as a
# radio link that is up before it gets an address.
ns_topology() {
	topo_init || return
	if [[ $MODE == keep ]]; then
		topo_cleanup || return
		TOPO_PREFIX=$KEEP_PREFIX
		topo_lan "$TOPO_INTERNET" || return
	fi
	topo_host dc && topo_internet_attach dc 203.0.113.20/24 eth0 &&
		topo_home_network home 203.0.113.10 192.0.2.0/26 &&
		topo_home_network foreign 203.0.113.11 192.0.2.64/26 &&
		topo_home_network mobile 203.0.113.12 192.0.2.128/26 &&
		topo_host agent && topo_attach agent home 192.0.2.2/26 eth0 &&
		topo_default_route agent 192.0.2.1 &&
		topo_host player && topo_attach player foreign 192.0.2.66/26 eth0 &&
		topo_default_route player 192.0.2.65 &&
		topo_attach player mobile - eth1 &&
		topo_rate player eth0 "$PLAYER_RATE" && topo_rate player eth1 "$PLAYER_RATE"
}

ns_start_dc() {
	local dir=$WORK/netns

	"$BUILD/admin-api/ntm-keygen" "$dir/dc.key" >/dev/null || return
	cat >"$dir/dcd.conf" <<EOF
[dc]
domain = $DOMAIN
listen = 203.0.113.20:47800
private_key_file = $dir/dc.key
database = $dir/dcd.sqlite
vip_prefix = 198.51.100.0/24
[admin]
listen = 127.0.0.1:47880
token_file = $WORK/admin.token
EOF
	topo_bg dc "$dir/dcd.log" "$BUILD/dcd/ntm-dcd" -f -c "$dir/dcd.conf" || return
	NS_DAEMON_PIDS+=("$TOPO_BG_PID")
	wait_for 5 healthy dc 47880
}

# ns_start_node NS FQDN: enrols FQDN at the DC and starts ntm-noded in NS.
ns_start_node() {
	local ns=$1 fqdn=$2 dir=$WORK/netns

	"$BUILD/admin-api/ntm-keygen" "$dir/$fqdn.key" >/dev/null || return
	ns_admin dc 47880 /v1/nodes -X POST \
		-d "{\"fqdn\":\"$fqdn\",\"public_key\":\"$(cat "$dir/$fqdn.key.pub")\"}" |
		jq -e .vip >/dev/null || return
	cat >"$dir/$ns.conf" <<EOF
[node]
fqdn = $fqdn
private_key_file = $dir/$fqdn.key
dc = 203.0.113.20:47800
dc_public_key = $(cat "$dir/dc.key.pub")
[dns]
listen = 127.0.0.153:53
[ipc]
# The namespaces share one file system, so each node gets its own socket.
path = ipc://$dir/$ns.ipc
[admin]
listen = 127.0.0.1:47881
token_file = $WORK/admin.token
EOF
	topo_bg "$ns" "$dir/$ns.log" "$BUILD/nodeagent/ntm-noded" -f -c "$dir/$ns.conf" || return
	NS_DAEMON_PIDS+=("$TOPO_BG_PID")
	wait_for 5 healthy "$ns" 47881
}

registered() {
	[[ $(status "$1" .registered) == true ]]
}

# ns_registers NS EXPECTED_OBSERVED_IP: waits for the node in NS to
# register, prints its VIP and what the DC observed, and checks that the DC
# saw the NAT's public address.
ns_registers() {
	local ns=$1 expected=$2 line observed

	wait_for 10 registered "$ns" || return
	line=$(status "$ns" '"\(.fqdn) registered: VIP \(.vip), observed \(.observed), behind NAT: \(.behind_nat)"')
	progress "$line"
	observed=$(status "$ns" .observed)
	VIP[$ns]=$(status "$ns" .vip)
	[[ ${observed%:*} == "$expected" && $(status "$ns" .behind_nat) == true ]] && return 0
	explain "$ns: expected to be seen behind NAT at $expected, got $observed"
	return 1
}

# ns_ping FROM TO: sends three pings from FROM to TO's VIP and succeeds when
# each gets a reply.
ns_ping() {
	local out

	out=$(topo_exec "$1" ping -n -c 3 -i 0.2 -W 2 "${VIP[$2]}" 2>&1)
	progress "$(grep -E 'bytes from|packets transmitted' <<<"$out" | sed 's/^/  /')"
	grep -q ' 3 received' <<<"$out" && return 0
	explain "$out"
	return 1
}

# explain_retry MICROSECONDS: explains a handshake time that includes a
# retransmission of the Tunnel Request.
explain_retry() {
	(($1 >= HANDSHAKE_RETRY_MS * 1000 * 4 / 5)) || return 0
	progress "(about $HANDSHAKE_RETRY_MS ms or more: the first Tunnel Request was lost, and its retransmission $HANDSHAKE_RETRY_MS ms later completed the handshake)"
}

# ns_show_setup: prints how the tunnel from the player to the agent was built.
ns_show_setup() {
	local setup_us route_case path endpoint

	setup_us=$(tunnel player "$AGENT" setup_us)
	route_case=$(tunnel player "$AGENT" route_case)
	path=$(tunnel player "$AGENT" path)
	endpoint=$(tunnel player "$AGENT" endpoint)
	if [[ ! $setup_us =~ ^[1-9][0-9]*$ ]]; then
		explain "no setup_us for the tunnel to $AGENT: '$setup_us'"
		return 1
	fi
	progress "the first ping built the tunnel in $(us_to_ms "$setup_us") ms (setup_us $setup_us in the player's GET /v1/tunnels)"
	explain_retry "$setup_us"
	progress "route case $route_case (${ROUTE_CASE_NAMES[$route_case]-unknown}), path $path, the player sends to $endpoint"
}

listening() {
	[[ -n $(topo_exec "$1" ss -Hltn "sport = :$2") ]]
}

# ns_start_download: the agent serves the payload on its VIP, and the
# player connects from its VIP and writes what arrives.
ns_start_download() {
	local dir=$WORK/netns

	head -c $((DOWNLOAD_MIB * 1024 * 1024)) /dev/urandom >"$dir/payload" || return
	topo_bg agent "$dir/socat.log" socat -u "OPEN:$dir/payload" \
		"TCP-LISTEN:$DOWNLOAD_PORT,bind=${VIP[agent]},reuseaddr" || return
	wait_for 5 listening agent "$DOWNLOAD_PORT" || return
	topo_bg player "$dir/socat.log" socat -u \
		"TCP:${VIP[agent]}:$DOWNLOAD_PORT,bind=${VIP[player]}" "OPEN:$dir/received,creat,trunc" ||
		return
	DOWNLOAD_PID=$TOPO_BG_PID
	progress "the player downloads $DOWNLOAD_MIB MiB from ${VIP[agent]}:$DOWNLOAD_PORT over TCP, its links limited to $PLAYER_RATE"
}

received_at_least() {
	(($(file_size "$WORK/netns/received") >= $1))
}

# ns_move: moves the player into the mobile network once MOVE_AFTER_BYTES
# arrived, and checks that the download was still running.
ns_move() {
	local at_move total=$((DOWNLOAD_MIB * 1024 * 1024))

	wait_for 20 received_at_least "$MOVE_AFTER_BYTES" || return
	topo_move player eth0 mobile 192.0.2.130/26 192.0.2.129 || return
	at_move=$(file_size "$WORK/netns/received")
	progress "moved from foreign (192.0.2.66) to mobile (192.0.2.130) after $at_move of $total bytes"
	((at_move < total)) && return 0
	explain "the download had ended before the move"
	return 1
}

download_done() {
	! kill -0 "$DOWNLOAD_PID" 2>/dev/null
}

# ns_download_identical: waits for the download to end and compares the
# SHA-256 digests of the sent and the received file.
ns_download_identical() {
	local dir=$WORK/netns sent got

	wait_for 60 download_done || {
		explain "the download still runs after 60 s, $(file_size "$dir/received") bytes arrived"
		return 1
	}
	sent=$(sha256sum <"$dir/payload") && got=$(sha256sum <"$dir/received") || return
	progress "the download ended with $(file_size "$dir/received") bytes; SHA-256 of the sent file ${sent:0:16}..., of the received file ${got:0:16}..."
	[[ $sent == "$got" ]] && return 0
	explain "the received file differs from the sent one"
	return 1
}

recreated() {
	local us

	us=$(status player .last_recreate_us)
	[[ $us =~ ^[0-9]+$ ]] && ((us > 0))
}

# ns_show_recreation: the player's re-creation time next to the prototype's,
# and the address the agent sends to now.
ns_show_recreation() {
	local us endpoint

	wait_for 5 recreated || {
		explain "the player reports no re-creation: $(status player '{moves, last_recreate_us}|tojson')"
		return 1
	}
	us=$(status player .last_recreate_us)
	progress "the player re-created its tunnel $(us_to_ms "$us") ms after the move (last_recreate_us $us in its GET /v1/status)"
	progress "the NTMobile remote-DLNA prototype from Meijo University (Shimizu, Suzuki, Naito and Watanabe, IPSJ Journal, 2014) needed $PROTOTYPE_RECREATE_MS ms (Table II)"
	explain_retry "$us"
	progress "namespaces add no propagation delay: docs/benchmarks.md counts the round trips a real network adds"
	endpoint=$(tunnel agent "$PLAYER" endpoint)
	progress "the agent now sends to $endpoint, the mobile network's NAT"
	[[ ${endpoint%:*} == 203.0.113.12 ]] && return 0
	explain "expected the agent to send to 203.0.113.12, got $endpoint"
	return 1
}

# exited PID: succeeds when the child PID has exited (a zombie or gone).
exited() {
	local stat

	read -r stat 2>/dev/null <"/proc/$1/stat" || return 0
	stat=${stat##*) }
	[[ ${stat:0:1} == Z ]]
}

# ns_stop_daemons: stops the DC and both node agents with SIGTERM and
# checks that each exits with status 0 within 10 s. A sanitizer build
# fails that exit status when it finds a leak.
ns_stop_daemons() {
	local pid status failed=0

	kill -TERM "${NS_DAEMON_PIDS[@]}" 2>/dev/null
	for pid in "${NS_DAEMON_PIDS[@]}"; do
		if ! wait_for 10 exited "$pid"; then
			explain "process $pid still runs 10 s after SIGTERM"
			failed=1
			continue
		fi
		wait "$pid"
		status=$?
		if ((status != 0)); then
			explain "process $pid exited with status $status"
			failed=1
		fi
	done
	NS_DAEMON_PIDS=()
	((failed == 0)) || return 1
	progress "ntm-dcd and both ntm-noded exited with status 0"
}

no_sanitizer_reports() {
	! grep -H -m 3 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORK"/*/*.log >&2
}

part_namespaces() {
	declare -gA VIP=()

	heading "Part 2: the real daemons in network namespaces"
	require "namespaces: build the topology" ns_topology
	progress "Internet 203.0.113.0/24 with the DC at .20; NAT routers: home .10 (LAN 192.0.2.0/26), foreign .11 (192.0.2.64/26), mobile .12 (192.0.2.128/26)"
	progress "agent at 192.0.2.2 in home, player at 192.0.2.66 in foreign"
	require "namespaces: the DC starts" ns_start_dc
	require "namespaces: the agent's ntm-noded starts" ns_start_node agent "$AGENT"
	require "namespaces: the player's ntm-noded starts" ns_start_node player "$PLAYER"

	heading "Both nodes register with the DC"
	require "namespaces: the agent registers behind the home NAT" ns_registers agent 203.0.113.10
	require "namespaces: the player registers behind the foreign NAT" \
		ns_registers player 203.0.113.11

	heading "The player pings the agent's VIP ${VIP[agent]}: its first packet triggers the tunnel"
	require "namespaces: the player's pings to the agent's VIP are answered" ns_ping player agent
	check "namespaces: the player reports the tunnel's setup_us" ns_show_setup

	heading "The player downloads from the agent and moves to a third network mid-transfer"
	require "namespaces: the download starts" ns_start_download
	check "namespaces: the player moves mid-transfer" ns_move
	check "namespaces: the download arrives byte-identical" ns_download_identical
	check "namespaces: the player re-creates the tunnel from the mobile network" ns_show_recreation
	check "namespaces: the player's pings are answered after the move" ns_ping player agent
	[[ $MODE != keep ]] || return 0

	heading "Stopping the daemons"
	check "namespaces: the daemons stop cleanly on SIGTERM" ns_stop_daemons
	check "no sanitizer reports in the daemon logs" no_sanitizer_reports
}

# --- --keep and --down -------------------------------------------------------

# keep_topology: writes the state file, disarms the cleanup of the
# namespaces and prints how to use them.
keep_topology() {
	printf 'prefix=%s\nwork=%s\n' "$TOPO_PREFIX" "$WORK" >"$STATE_FILE" || return
	KEEP_WORK=1
	trap on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	cat <<EOF

== The topology stays up (remove it with: scripts/demo.sh --down)
Enter the player's namespace:
  ip netns exec ${TOPO_PREFIX}player bash
and try there:
  ping ${VIP[agent]}
  dig +short @127.0.0.153 $AGENT
  curl -s -H @$WORK/auth.header http://127.0.0.1:47881/v1/tunnels | jq
  curl -s -H @$WORK/auth.header http://127.0.0.1:47881/v1/status | jq
The agent's namespace is ${TOPO_PREFIX}agent, the DC's ${TOPO_PREFIX}dc (admin port 47880).
Logs and configuration files: $WORK/netns
EOF
}

# down: removes the namespaces, their processes and the work directory of
# a kept topology.
down() {
	local key value prefix=$KEEP_PREFIX work=

	if [[ -r $STATE_FILE ]]; then
		while IFS='=' read -r key value; do
			case $key in
			prefix) prefix=$value ;;
			work) work=$value ;;
			esac
		done <"$STATE_FILE"
	fi
	if [[ $prefix != "$KEEP_PREFIX" ]]; then
		explain "$STATE_FILE names prefix '$prefix', expected '$KEEP_PREFIX'; remove the file by hand"
		exit 1
	fi
	TOPO_PREFIX=$prefix
	topo_cleanup || exit 1
	if [[ $work == /tmp/ntm-demo.* ]]; then
		rm -rf -- "$work"
	fi
	rm -f -- "$STATE_FILE"
	echo "removed the kept demo topology (${prefix}*)${work:+ and $work}"
}

main() {
	case ${1-} in
	'') ;;
	--check) MODE=check ;;
	--keep) MODE=keep ;;
	--down) MODE=down ;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		usage >&2
		exit 2
		;;
	esac
	if (($# > 1)); then
		usage >&2
		exit 2
	fi
	if ((EUID != 0)); then
		echo "demo.sh: must run as root, because it installs packages and creates network namespaces" >&2
		exit 1
	fi
	if [[ $MODE == down ]]; then
		down
		exit 0
	fi
	if [[ $MODE == keep ]]; then
		keep_check_free || exit 1
	fi

	# Set before topo_init, which runs these after its own cleanup.
	trap on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	prepare
	part_loopback
	part_namespaces
	if [[ $MODE == keep && $FAILED == 0 ]]; then
		keep_topology || exit 1
	fi
	finish
}

main "$@"
