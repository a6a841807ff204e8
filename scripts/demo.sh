#!/usr/bin/env bash
# Shows the suite at work on this machine, as root on Debian 12. It installs
# what is missing, builds, and runs two parts:
#   1. A Direction Coordinator (DC) on loopback with scripted nodes: enrolment,
#      registration, NAT detection, NTM queries and the route the DC chooses
#      in each of its four route cases.
#   2. Remote DLNA with the real daemons in network namespaces
#      (tests/netns/topo.sh): a DC on an emulated Internet, the DLNA Agent's
#      host and minidlna behind a home NAT, and a player behind the NAT of
#      another network. The player's M-SEARCH triggers the tunnel to the
#      Agent. The player discovers, browses and streams from minidlna through
#      the server's VIP. Then it moves into the home network during a stream,
#      which must complete byte-identical. A table puts the times of this run next
#      to Tables I and II of the NTMobile remote-DLNA prototype.
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
# The server's address in the home LAN, and the player's after it comes home.
readonly SERVER_LAN=192.0.2.3
readonly PLAYER_HOME=192.0.2.4
readonly MINIDLNA_PORT=8200
readonly FRIENDLY_NAME="home media"
readonly MEDIA_SERVER=urn:schemas-upnp-org:device:MediaServer:1
readonly CONTENT_DIRECTORY=urn:schemas-upnp-org:service:ContentDirectory:1
# minidlna's container of all music items.
readonly MINIDLNA_ALL_MUSIC="1\$4"
# The large file, streamed at STREAM_RATE bytes a second (curl's
# --limit-rate), so that the stream lasts about 4 s and the move, after
# MOVE_AFTER_BYTES, falls well inside it.
readonly STREAM_MIB=16
readonly STREAM_RATE=4M
readonly MOVE_AFTER_BYTES=$((4 * 1024 * 1024))
# ntm-dcd lets nodes behind two NATs probe for a path this long after the
# Route Direction (docs/protocol.md, section 11).
readonly PUNCH_START_MS=200
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

Runs the demo as root: a DC with scripted nodes on loopback, then remote
DLNA with the real daemons in network namespaces, where the player discovers,
browses and streams from minidlna and comes home during a stream.

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
		tests/integration/ntm-scriptnode ssdp-proxy/ntm-ssdpd dad/ntm-dad; do
		[[ -x $BUILD/$bin ]] && continue
		explain "$BUILD/$bin not found; build the suite there, or unset NTM_BUILD"
		return 1
	done
	for bin in minidlnad gssdp-discover ffmpeg curl jq python3; do
		command -v "$bin" >/dev/null && continue
		explain "$bin not found; run scripts/demo.sh without NTM_BUILD once, which installs it"
		return 1
	done
}

# Builds only the programs the demo runs, so that work in progress
# elsewhere in the tree cannot stop it.
build() {
	ntm_install_deps || return
	cmake -S "$NTM_REPO_ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || return
	cmake --build "$BUILD" -j2 --target ntm-dcd ntm-noded ntm-keygen ntm-scriptnode \
		ntm-ssdpd ntm-dad >/dev/null
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

# --- Part 2: the DLNA scenario with real daemons in network namespaces ---------

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

# ns_topology: the emulated Internet with the DC, the home network with the
# DLNA Agent's host and the media server behind one NAT, and the foreign
# network with the player behind another. The player's link into the home
# network exists from the start, as a radio link that is up before it gets
# an address.
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
		topo_host agent && topo_attach agent home 192.0.2.2/26 eth0 &&
		topo_default_route agent 192.0.2.1 &&
		topo_host server && topo_attach server home "$SERVER_LAN/26" eth0 &&
		topo_default_route server 192.0.2.1 &&
		topo_host player && topo_attach player foreign 192.0.2.66/26 eth0 &&
		topo_default_route player 192.0.2.65 &&
		topo_attach player home - eth1
}

# ns_media: a 2 s tone, a 2 s video and STREAM_MIB of noise as a WAV file
# (large, and it does not compress) for minidlna, which indexes at start.
ns_media() {
	local media=$WORK/netns/media

	mkdir -p "$media/Music" "$media/Video" "$WORK/netns/minidlna" || return
	ffmpeg -loglevel error -f lavfi -i "sine=frequency=440:duration=2" \
		"$media/Music/tone.mp3" &&
		ffmpeg -loglevel error -f lavfi -i "testsrc=size=160x120:rate=10:duration=2" \
			-pix_fmt yuv420p "$media/Video/clip.mp4" &&
		head -c $((STREAM_MIB * 1024 * 1024)) /dev/urandom |
		ffmpeg -loglevel error -f s16le -ar 44100 -ac 2 -i - "$media/Music/big.wav"
}

ns_start_minidlna() {
	local dir=$WORK/netns

	cat >"$dir/minidlna.conf" <<EOF
port=$MINIDLNA_PORT
network_interface=eth0
media_dir=$dir/media
db_dir=$dir/minidlna
log_dir=$dir/minidlna
friendly_name=$FRIENDLY_NAME
inotify=no
notify_interval=30
EOF
	topo_bg server "$dir/minidlna.log" minidlnad -f "$dir/minidlna.conf" \
		-P "$dir/minidlna.pid" -d
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
	[[ ${observed%:*} == "$expected" && $(status "$ns" .behind_nat) == true ]] && return 0
	explain "$ns: expected to be seen behind NAT at $expected, got $observed"
	return 1
}

pool_granted() {
	grep -q 'VIP pool of' "$WORK/netns/dad.log"
}

# ns_start_dlna: ntm-ssdpd (home mode) and ntm-dad on the Agent's host,
# ntm-ssdpd (player mode) on the player's host.
ns_start_dlna() {
	local dir=$WORK/netns

	cat >"$dir/ssdpd-home.conf" <<EOF
[ssdpd]
mode = home
lan_interface = eth0
lan_prefix = 192.0.2.0/26
ipc = ipc://$dir/ssdpd.ipc
ignore_prefix = 198.51.100.0/24
[admin]
listen = 127.0.0.1:47884
token_file = $WORK/admin.token
EOF
	cat >"$dir/dad.conf" <<EOF
[dad]
lan_interface = eth0
lan_address = 192.0.2.2
tun_interface = ntm0
vip_count = 4
state_file = $dir/dad-servers.json
allow = $PLAYER
noded_ipc = ipc://$dir/agent.ipc
ssdpd_ipc = ipc://$dir/ssdpd.ipc
[admin]
listen = 127.0.0.1:47883
token_file = $WORK/admin.token
EOF
	cat >"$dir/ssdpd-player.conf" <<EOF
[ssdpd]
mode = player
agent_fqdn = $AGENT
noded_ipc = ipc://$dir/player.ipc
[admin]
listen = 127.0.0.1:47884
token_file = $WORK/admin.token
EOF
	ns_daemon agent ssdpd-home "$BUILD/ssdp-proxy/ntm-ssdpd" 47884 &&
		ns_daemon agent dad "$BUILD/dad/ntm-dad" 47883 &&
		ns_daemon player ssdpd-player "$BUILD/ssdp-proxy/ntm-ssdpd" 47884 &&
		wait_for 10 pool_granted
}

# ns_daemon NS NAME BINARY ADMIN_PORT: starts BINARY in NS with NAME.conf
# and waits for its admin API.
ns_daemon() {
	local dir=$WORK/netns

	topo_bg "$1" "$dir/$2.log" "$3" -f -c "$dir/$2.conf" || return
	NS_DAEMON_PIDS+=("$TOPO_BG_PID")
	wait_for 5 healthy "$1" "$4"
}

# discover: the player application's own M-SEARCH, with gssdp-discover.
discover() {
	topo_exec player gssdp-discover -i eth0 -t "$MEDIA_SERVER" -n 3 \
		>"$WORK/netns/discover.txt" 2>&1
	grep -q "http://198\.51\.100\.[0-9]*:$MINIDLNA_PORT/" "$WORK/netns/discover.txt"
}

# ns_discover: runs gssdp-discover on the player until it finds a server
# on a VIP, and sets LOCATION and SERVER_VIP from the first one.
ns_discover() {
	wait_for 30 discover || {
		explain "gssdp-discover found no server on a VIP: $(tr '\n' ' ' <"$WORK/netns/discover.txt")"
		return 1
	}
	LOCATION=$(grep -o "http://198\.51\.100\.[0-9]*:$MINIDLNA_PORT/[^ ]*" \
		"$WORK/netns/discover.txt" | head -n 1)
	SERVER_VIP=${LOCATION#http://}
	SERVER_VIP=${SERVER_VIP%%:*}
}

# ns_show_setup: prints how the tunnel from the player to the Agent was built.
ns_show_setup() {
	local route_case path endpoint

	SETUP_US=$(tunnel player "$AGENT" setup_us)
	route_case=$(tunnel player "$AGENT" route_case)
	path=$(tunnel player "$AGENT" path)
	endpoint=$(tunnel player "$AGENT" endpoint)
	if [[ ! $SETUP_US =~ ^[1-9][0-9]*$ ]]; then
		explain "no setup_us for the tunnel to $AGENT: '$SETUP_US'"
		return 1
	fi
	progress "that M-SEARCH built the tunnel to $AGENT in $(us_to_ms "$SETUP_US") ms (setup_us $SETUP_US in the player's GET /v1/tunnels)"
	progress "route case $route_case (${ROUTE_CASE_NAMES[$route_case]-unknown}), path $path, the player sends to $endpoint"
	explain_punch "$SETUP_US"
}

# explain_punch MICROSECONDS: explains a set-up time that includes the wait
# before hole punching.
explain_punch() {
	(($1 >= PUNCH_START_MS * 1000)) || return 0
	progress "(both nodes are behind NAT: the DC lets them probe for a path $PUNCH_START_MS ms after the Route Direction, hole punching)"
}

# description_of URL OUT: fetches a device description through the VIP and
# prints curl's time_total in seconds.
description_of() {
	topo_exec player curl -sf --max-time 10 -o "$2" -w '%{time_total}' "$1"
}

# friendly_name FILE: the friendlyName of a device description.
friendly_name() {
	sed -n 's:.*<friendlyName>\([^<]*\)</friendlyName>.*:\1:p' "$1" | head -n 1
}

# ns_show_servers: every server gssdp-discover found, with the friendly
# name from its description. The first fetch is the step "acquisition of
# device information".
ns_show_servers() {
	local url n=0 seconds name

	while read -r url; do
		n=$((n + 1))
		seconds=$(description_of "$url" "$WORK/netns/desc$n.xml") || {
			explain "the description at $url did not arrive"
			return 1
		}
		((n > 1)) || DESCRIPTION_S=$seconds
		name=$(friendly_name "$WORK/netns/desc$n.xml")
		progress "  \"$name\" on VIP $(vip_of "$url"), description $url"
	done < <(grep -o 'http://198\.51\.100\.[0-9.]*:[0-9]*/[^ ]*' "$WORK/netns/discover.txt" |
		sort -u)
	progress "the first description arrived in $(s_to_ms "$DESCRIPTION_S") ms (curl's time_total)"
	[[ -n $(friendly_name "$WORK/netns/desc1.xml") ]] && ! grep -q "$SERVER_LAN" \
		"$WORK"/netns/desc*.xml
}

# vip_of URL: the address in an http:// URL.
vip_of() {
	local host=${1#http://}

	echo "${host%%[:/]*}"
}

# s_to_ms SECONDS: converts curl's seconds with six decimals to ms.
s_to_ms() {
	LC_ALL=C awk -v s="$1" 'BEGIN { printf "%.3f", s * 1000 }'
}

# msearch_ms: sends one M-SEARCH from the player's address and prints the
# ms to the first 200 OK.
msearch_ms() {
	topo_exec player python3 - "$MEDIA_SERVER" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.66", 0))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("192.0.2.66"))
s.settimeout(3)
msg = ("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
       'MAN: "ssdp:discover"\r\nMX: 1\r\nST: %s\r\n\r\n' % sys.argv[1])
start = time.monotonic()
s.sendto(msg.encode(), ("239.255.255.250", 1900))
while True:
    data, _ = s.recvfrom(9000)
    if data.startswith(b"HTTP/1.1 200"):
        print("%.3f" % ((time.monotonic() - start) * 1000))
        break
PY
}

# ns_trigger: the player application's first M-SEARCH, timed to its first
# answer. It makes the player's ntm-ssdpd ask its node agent for the tunnel
# to the Agent, then search through it: the step "device discovery",
# tunnel included.
ns_trigger() {
	DISCOVERY_MS=$(msearch_ms) || {
		explain "the first M-SEARCH got no answer within 3 s"
		return 1
	}
	progress "the player's first M-SEARCH for $MEDIA_SERVER got its first answer after $DISCOVERY_MS ms"
}

# browse OBJECT_ID OUT: a ContentDirectory Browse of the direct children.
browse() {
	topo_exec player curl -sf --max-time 10 -o "$2" \
		-H 'Content-Type: text/xml; charset="utf-8"' \
		-H "SOAPACTION: \"$CONTENT_DIRECTORY#Browse\"" \
		--data "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body><u:Browse xmlns:u=\"$CONTENT_DIRECTORY\"><ObjectID>$1</ObjectID><BrowseFlag>BrowseDirectChildren</BrowseFlag><Filter>*</Filter><StartingIndex>0</StartingIndex><RequestedCount>100</RequestedCount><SortCriteria></SortCriteria></u:Browse></s:Body></s:Envelope>" \
		"http://$SERVER_VIP:$MINIDLNA_PORT/ctl/ContentDir"
}

# didl FILE KIND [TITLE]: from a Browse response (the DIDL-Lite Result is
# XML-escaped in the SOAP body), prints the titles of the elements of KIND
# (container or item), or with TITLE the res URL of the item of that title.
didl() {
	python3 - "$@" <<'PY'
import html, re, sys
body = open(sys.argv[1], encoding="utf-8", errors="replace").read()
m = re.search(r"<Result>(.*)</Result>", body, re.S)
didl = html.unescape(m.group(1)) if m else ""
for element in re.findall(r"<%s\b.*?</%s>" % (sys.argv[2], sys.argv[2]), didl, re.S):
    title = re.search(r"<dc:title>([^<]*)</dc:title>", element)
    title = title.group(1) if title else ""
    if len(sys.argv) == 3:
        print(title)
    elif title == sys.argv[3]:
        res = re.search(r"<res[^>]*>([^<]+)</res>", element)
        if res:
            print(res.group(1))
            break
PY
}

# ns_browse_root: the root's containers, as a control point lists them.
ns_browse_root() {
	local titles

	browse 0 "$WORK/netns/root.xml" || return
	titles=$(didl "$WORK/netns/root.xml" container | paste -sd ',' | sed 's/,/, /g')
	progress "Browse of the root (ObjectID 0): $titles"
	[[ -n $titles ]] && ! grep -q "$SERVER_LAN" "$WORK/netns/root.xml"
}

# find_item TITLE: sets ITEM_URL to the URL of the item TITLE in
# minidlna's "all music".
find_item() {
	browse "$MINIDLNA_ALL_MUSIC" "$WORK/netns/music.xml" &&
		ITEM_URL=$(didl "$WORK/netns/music.xml" item "$1") && [[ -n $ITEM_URL ]]
}

# same_sha256 SENT RECEIVED: prints both digests and compares them.
same_sha256() {
	local sent got

	sent=$(sha256sum <"$1") && got=$(sha256sum <"$2") || return
	progress "  $(file_size "$2") bytes; SHA-256 on the server ${sent:0:16}..., at the player ${got:0:16}..."
	[[ $sent == "$got" ]] && return 0
	explain "$2 differs from $1"
	return 1
}

# ns_stream_tone: the tone, streamed through the VIP and compared.
ns_stream_tone() {
	find_item tone || return
	progress "the player streams $ITEM_URL"
	topo_exec player curl -sf --max-time 20 -o "$WORK/netns/tone.got" "$ITEM_URL" &&
		same_sha256 "$WORK/netns/media/Music/tone.mp3" "$WORK/netns/tone.got"
}

# ns_tunnel_reused: the browse and the stream used the discovery's tunnel:
# still one tunnel to the Agent, with the same setup_us.
ns_tunnel_reused() {
	local tunnels count

	tunnels=$(ns_admin player 47881 /v1/tunnels) || return
	count=$(jq --arg peer "$AGENT" '[.tunnels[] | select(.peer_fqdn == $peer)] | length' <<<"$tunnels")
	progress "the player has $count tunnel to $AGENT, setup_us still $(tunnel player "$AGENT" setup_us): the data needed no new tunnel"
	[[ $count == 1 && $(tunnel player "$AGENT" setup_us) == "$SETUP_US" ]] && return 0
	explain "expected one tunnel to $AGENT with setup_us $SETUP_US: $(jq -c .tunnels <<<"$tunnels")"
	return 1
}

received_at_least() {
	(($(file_size "$WORK/netns/big.got") >= $1))
}

# ns_start_stream: a rate-limited stream of the large file through the VIP.
ns_start_stream() {
	find_item big || return
	topo_bg player "$WORK/netns/curl.log" curl -sf --max-time 60 --limit-rate "$STREAM_RATE" \
		-o "$WORK/netns/big.got" "$ITEM_URL" || return
	STREAM_PID=$TOPO_BG_PID
	progress "the player streams $STREAM_MIB MiB from $ITEM_URL at $STREAM_RATE/s"
}

# ns_move_home: the player moves into the home network once MOVE_AFTER_BYTES
# arrived, and the stream must still run.
ns_move_home() {
	local at_move total

	total=$(file_size "$WORK/netns/media/Music/big.wav")
	wait_for 20 received_at_least "$MOVE_AFTER_BYTES" || return
	topo_move player eth0 home "$PLAYER_HOME/26" 192.0.2.1 || return
	at_move=$(file_size "$WORK/netns/big.got")
	progress "the player moved from foreign (192.0.2.66) into home ($PLAYER_HOME), beside the Agent, after $at_move of $total bytes"
	((at_move < total)) && return 0
	explain "the stream had ended before the move"
	return 1
}

stream_done() {
	exited "$STREAM_PID"
}

ns_stream_identical() {
	wait_for 60 stream_done || {
		explain "the stream still runs after 60 s, $(file_size "$WORK/netns/big.got") bytes arrived"
		return 1
	}
	wait "$STREAM_PID" || {
		explain "curl failed: $(cat "$WORK/netns/curl.log")"
		return 1
	}
	progress "the stream completed:"
	same_sha256 "$WORK/netns/media/Music/big.wav" "$WORK/netns/big.got"
}

recreated() {
	local us

	us=$(status player .last_recreate_us)
	[[ $us =~ ^[0-9]+$ ]] && ((us > 0))
}

# ns_show_recreation: the player's re-creation time, and the path the
# tunnel takes in the home network.
ns_show_recreation() {
	local route_case endpoint

	wait_for 5 recreated || {
		explain "the player reports no re-creation: $(status player '{moves, last_recreate_us}|tojson')"
		return 1
	}
	RECREATE_US=$(status player .last_recreate_us)
	route_case=$(tunnel player "$AGENT" route_case)
	endpoint=$(tunnel player "$AGENT" endpoint)
	progress "the player re-created its tunnel $(us_to_ms "$RECREATE_US") ms after the move (last_recreate_us $RECREATE_US in its GET /v1/status)"
	progress "route case $route_case (${ROUTE_CASE_NAMES[$route_case]-unknown}), the player now sends to $endpoint"
	[[ ${endpoint%:*} == 192.0.2.2 ]] && return 0
	explain "expected the player to send to the Agent's LAN address 192.0.2.2, got $endpoint"
	return 1
}

# table_row STEP PROTOTYPE OURS ROUND_TRIPS
table_row() {
	progress "$(printf '  %-34s %9s %9s  %s' "$@")"
}

# ns_table: the steps of Tables I and II of the prototype next to ours.
ns_table() {
	heading "Tables I and II of the prototype next to this run"
	progress "Prototype: the NTMobile remote-DLNA prototype from Meijo University (Shimizu,"
	progress "Suzuki, Naito and Watanabe, IPSJ Journal, 2014). Ours: this run, in namespaces"
	progress "that add no propagation delay; add a real network's round-trip time times"
	progress "the round trips (docs/benchmarks.md)."
	table_row "step" "prototype" "ours" "round trips (ours)"
	table_row "I: tunnel for device discovery" "21.96 ms" "$(us_to_ms "$SETUP_US") ms" \
		"3: NTM query, direction, handshake"
	table_row "I: device discovery" "6.86 ms" "$DISCOVERY_MS ms" \
		"4: the tunnel's 3, then the search (1)"
	table_row "I: tunnel for data transfer" "10.12 ms" "0 ms" "0: the tunnel is reused"
	table_row "I: acquisition of device info" "8.36 ms" "$(s_to_ms "$DESCRIPTION_S") ms" \
		"2, and 2 Agent-server in the LAN"
	table_row "II: tunnel re-creation, move" "80 ms" "$(us_to_ms "$RECREATE_US") ms" \
		"3: registration, direction, handshake"
	progress "Ours: setup_us; the first M-SEARCH to its first answer, tunnel included (the"
	progress "Agent answers from its cache); curl's time_total of the description;"
	progress "last_recreate_us (the move into the home network)."
}

# exited PID: succeeds when the child PID has exited (a zombie or gone).
exited() {
	local stat

	read -r stat 2>/dev/null <"/proc/$1/stat" || return 0
	stat=${stat##*) }
	[[ ${stat:0:1} == Z ]]
}

# ns_stop_daemons: stops the project's daemons with SIGTERM and checks that
# each exits with status 0 within 10 s. A sanitizer build fails that exit
# status when it finds a leak.
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
	progress "ntm-dcd, both ntm-noded, both ntm-ssdpd and ntm-dad exited with status 0"
}

no_sanitizer_reports() {
	! grep -H -m 3 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORK"/*/*.log >&2
}

part_namespaces() {
	heading "Part 2: remote DLNA through the DLNA Agent, real daemons in network namespaces"
	require "namespaces: build the topology" ns_topology
	progress "Internet 203.0.113.0/24 with the DC at .20; NAT routers: home .10 (LAN 192.0.2.0/26), foreign .11 (192.0.2.64/26)"
	progress "home: the Agent's host 192.0.2.2, minidlna at $SERVER_LAN; foreign: the player at 192.0.2.66"
	require "namespaces: media files for minidlna" ns_media
	require "namespaces: minidlna starts in the home network" ns_start_minidlna
	require "namespaces: the DC starts" ns_start_dc
	require "namespaces: the Agent's ntm-noded starts" ns_start_node agent "$AGENT"
	require "namespaces: the player's ntm-noded starts" ns_start_node player "$PLAYER"

	heading "Both nodes register with the DC"
	require "namespaces: the Agent registers behind the home NAT" ns_registers agent 203.0.113.10
	require "namespaces: the player registers behind the foreign NAT" \
		ns_registers player 203.0.113.11
	require "namespaces: ntm-ssdpd and ntm-dad start, the Agent gets its VIP pool" ns_start_dlna
	progress "the Agent runs ntm-ssdpd (home) and ntm-dad; the player runs ntm-ssdpd (player)"

	heading "The player's M-SEARCH triggers the tunnel to the Agent"
	require "namespaces: the player's first M-SEARCH is answered" ns_trigger
	check "namespaces: the player reports the tunnel's setup_us" ns_show_setup
	require "namespaces: gssdp-discover on the player finds a server on a VIP" ns_discover
	progress "servers found by gssdp-discover on the player:"
	require "namespaces: the description names the server and no home address" ns_show_servers

	heading "The player browses the server and streams a file"
	check "namespaces: Browse of the root lists the containers" ns_browse_root
	check "namespaces: the streamed file is byte-identical" ns_stream_tone
	check "namespaces: the data uses the discovery's tunnel" ns_tunnel_reused

	heading "Coming home: the player moves into the home network during a stream"
	require "namespaces: the stream starts" ns_start_stream
	check "namespaces: the player moves mid-stream" ns_move_home
	check "namespaces: the stream completes byte-identical" ns_stream_identical
	check "namespaces: the player re-creates the tunnel in the home network" ns_show_recreation
	ns_table
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
Enter the player's namespace (now in the home network):
  ip netns exec ${TOPO_PREFIX}player bash
and try there:
  gssdp-discover -i eth1 -t $MEDIA_SERVER -n 3
  curl -s $LOCATION | head
  dig +short @127.0.0.153 $AGENT
  curl -s -H @$WORK/auth.header http://127.0.0.1:47881/v1/tunnels | jq
  curl -s -H @$WORK/auth.header http://127.0.0.1:47881/v1/status | jq
The Agent's namespace is ${TOPO_PREFIX}agent (ntm-dad's admin port 47883), minidlna's
${TOPO_PREFIX}server, the DC's ${TOPO_PREFIX}dc (admin port 47880).
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
