# shellcheck shell=bash
# Helpers shared by the system tests: building the project's daemons into a
# namespace topology (tests/netns/topo.sh), with generated keys, tokens and
# configuration files in a per-run work directory.

SYS_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd -- "$SYS_DIR/../.." && pwd)
BUILD=${NTM_BUILD:-$REPO/build-test}
# shellcheck source=tests/netns/topo.sh
source "$REPO/tests/netns/topo.sh"

SYS_PASSED=0
SYS_FAILED=0
# PID of the node agent started by sys_node in each namespace.
declare -gA SYS_NODE_PID=()

# sys_init: creates the work directory and the DC's key and admin token,
# then initialises the topology. The EXIT trap that removes the work
# directory is set before topo_init, because topo_init keeps earlier traps
# and runs them after its own cleanup, whereas a trap set after it would
# replace the namespace cleanup.
sys_init() {
	WORK=$(mktemp -d /tmp/ntm-system.XXXXXX) || return
	trap 'rm -rf -- "$WORK"' EXIT
	topo_init || return
	head -c 32 /dev/urandom | base64 >"$WORK/admin.token"
	chmod 600 "$WORK/admin.token"
	"$BUILD/admin-api/ntm-keygen" "$WORK/dc.key" >/dev/null
}

ok() {
	echo "ok - $*"
	SYS_PASSED=$((SYS_PASSED + 1))
}

not_ok() {
	echo "not ok - $*"
	SYS_FAILED=$((SYS_FAILED + 1))
}

# check NAME CMD...: runs CMD and records the result under NAME.
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# require NAME CMD...: like check, but a failure ends the test at once
# with the summary, for steps that every later check depends on.
require() {
	check "$@" && return 0
	sys_summary
	exit 1
}

# sys_summary: prints the closing count line and fails when a check failed.
# After a failure it first prints the end of every daemon log to stderr.
sys_summary() {
	if ((SYS_FAILED > 0)); then
		sys_dump_logs 40 >&2
	fi
	echo "$SYS_PASSED passed, $SYS_FAILED failed"
	((SYS_FAILED == 0))
}

# sys_dump_logs LINES: prints the last LINES lines of each log file in the
# work directory.
sys_dump_logs() {
	local log

	for log in "$WORK"/*.log; do
		[[ -f $log ]] || continue
		echo "--- last lines of $(basename -- "$log")"
		tail -n "$1" -- "$log"
	done
}

# sys_dc NS ADDR DOMAIN PREFIX: starts ntm-dcd in NS listening on ADDR.
sys_dc() {
	local ns=$1 addr=$2 domain=$3 prefix=$4
	cat >"$WORK/dcd.conf" <<CONF
[dc]
domain = $domain
listen = $addr:47800
private_key_file = $WORK/dc.key
database = $WORK/dcd.sqlite
vip_prefix = $prefix
keepalive_interval = 5
offline_after = 20
log_level = debug
[admin]
listen = 127.0.0.1:47880
token_file = $WORK/admin.token
${DC_EXTRA:-}
CONF
	DC_NS=$ns
	DC_ADDR=$addr
	sys_dc_start
}

# sys_dc_start: starts ntm-dcd in DC_NS with the configuration and database
# that sys_dc wrote, so a restart keeps every record. Sets DC_PID.
sys_dc_start() {
	topo_bg "$DC_NS" "$WORK/dcd.log" "$BUILD/dcd/ntm-dcd" -f -c "$WORK/dcd.conf"
	DC_PID=$TOPO_BG_PID
	sys_wait_http "$DC_NS" 47880 || { cat "$WORK/dcd.log"; return 1; }
}

# sys_dc_kill [SIGNAL]: sends SIGNAL (default KILL) to the DC process and
# waits up to 5 s for it to exit.
sys_dc_kill() {
	kill -"${1:-KILL}" "$DC_PID" 2>/dev/null || return
	# Without the redirection bash reports the killed job on stderr.
	sys_wait_pid "$DC_PID" 5 2>/dev/null
	! kill -0 "$DC_PID" 2>/dev/null
}

# sys_rs NS ADDR: starts ntm-rsd in NS with its UDP socket and allocation
# socket on ADDR, accepting allocations from this run's DC key. Sets
# DC_EXTRA to the [relay] section sys_dc must be given to use it.
sys_rs() {
	local ns=$1 addr=$2
	"$BUILD/admin-api/ntm-keygen" "$WORK/rs.key" >/dev/null
	cat >"$WORK/rsd.conf" <<CONF
[rs]
listen = $addr:47820
public_endpoint = $addr:47820
private_key_file = $WORK/rs.key
log_level = debug
[alloc]
listen = $addr:47821
[admin]
listen = 127.0.0.1:47882
token_file = $WORK/admin.token
[dc dc]
public_key = $(cat "$WORK/dc.key.pub")
CONF
	RS_NS=$ns
	topo_bg "$ns" "$WORK/rsd.log" "$BUILD/rsd/ntm-rsd" -f -c "$WORK/rsd.conf"
	RS_PID=$TOPO_BG_PID
	DC_EXTRA="[relay rs1]
endpoint = $addr:47821
public_key = $(cat "$WORK/rs.key.pub")"
	sys_wait_http "$ns" 47882 || { cat "$WORK/rsd.log"; return 1; }
}

# sys_wait_http NS PORT: waits up to 5 s for /healthz on 127.0.0.1:PORT in NS.
sys_wait_http() {
	local _
	for _ in $(seq 50); do
		topo_exec "$1" curl -sf "http://127.0.0.1:$2/healthz" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# sys_admin NS PORT METHOD PATH [CURL_ARGS...]
sys_admin() {
	local ns=$1 port=$2 method=$3 path=$4
	shift 4
	topo_exec "$ns" curl -sS -X "$method" -H "Authorization: Bearer $(cat "$WORK/admin.token")" \
		-H 'Content-Type: application/json' "$@" "http://127.0.0.1:$port$path"
}

# sys_node NS FQDN: enrols FQDN at the DC and starts ntm-noded in NS.
sys_node() {
	local ns=$1 fqdn=$2
	"$BUILD/admin-api/ntm-keygen" "$WORK/$fqdn.key" >/dev/null
	sys_admin "$DC_NS" 47880 POST /v1/nodes \
		-d "{\"fqdn\":\"$fqdn\",\"public_key\":\"$(cat "$WORK/$fqdn.key.pub")\"}" >/dev/null
	cat >"$WORK/$fqdn.conf" <<CONF
[node]
fqdn = $fqdn
private_key_file = $WORK/$fqdn.key
dc = $DC_ADDR:47800
dc_public_key = $(cat "$WORK/dc.key.pub")
tun_name = ntm0
log_level = debug
[dns]
listen = 127.0.0.153:53
[ipc]
# Namespaces share the file system: one socket file per node.
path = ipc://$WORK/$fqdn.ipc
[admin]
listen = 127.0.0.1:47881
token_file = $WORK/admin.token
CONF
	topo_bg "$ns" "$WORK/$fqdn.log" "$BUILD/nodeagent/ntm-noded" -f -c "$WORK/$fqdn.conf"
	# shellcheck disable=SC2034 # read by the test scripts
	SYS_NODE_PID[$ns]=$TOPO_BG_PID
	sys_wait_http "$ns" 47881 || { cat "$WORK/$fqdn.log"; return 1; }
}

# sys_wait_registered NS: waits up to 5 s for the node agent in NS to register.
sys_wait_registered() {
	local _
	for _ in $(seq 50); do
		sys_admin "$1" 47881 GET /v1/status | grep -q '"registered": *true' && return 0
		sleep 0.1
	done
	return 1
}

# sys_vip NS: prints the VIP of the node agent in NS.
sys_vip() {
	sys_admin "$1" 47881 GET /v1/status | jq -r .vip
}

# sys_wait_for TIMEOUT_S CMD...: runs CMD every 0.1 s until it succeeds or
# TIMEOUT_S seconds passed. Fails on the timeout.
sys_wait_for() {
	local deadline=$((SECONDS + $1))
	shift

	while ! "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

# sys_wait_pid PID TIMEOUT_S: waits for a child process to exit and returns
# its exit status, or 124 when it still runs after TIMEOUT_S seconds.
sys_wait_pid() {
	local deadline=$((SECONDS + $2))

	while kill -0 "$1" 2>/dev/null && ! _sys_zombie "$1"; do
		((SECONDS < deadline)) || return 124
		sleep 0.1
	done
	wait "$1"
}

_sys_zombie() {
	local stat

	read -r stat <"/proc/$1/stat" 2>/dev/null || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} == Z ]]
}

# sys_status NS [JQ_FILTER]: prints the node agent's GET /v1/status in NS,
# or the result of JQ_FILTER on it (raw output).
sys_status() {
	sys_admin "$1" 47881 GET /v1/status | jq -r "${2:-.}"
}

# sys_tunnel NS PEER_FQDN [FIELD]: prints the tunnel object to PEER_FQDN
# from GET /v1/tunnels in NS, or one FIELD of it (raw output).
sys_tunnel() {
	sys_admin "$1" 47881 GET /v1/tunnels |
		jq -r --arg peer "$2" --arg field "${3-}" \
			'.tunnels[] | select(.peer_fqdn == $peer) |
			 if $field == "" then tojson else .[$field] end'
}

# sys_dropped NS REASON: prints the node agent's drop counter REASON
# (malformed, auth_failed, replayed...) from /v1/status in NS.
sys_dropped() {
	sys_status "$1" ".dropped.$2"
}

# sys_tunnel_up NS PEER_FQDN: succeeds when the tunnel to PEER_FQDN is up.
sys_tunnel_up() {
	[[ $(sys_tunnel "$1" "$2" state) == up ]]
}

# sys_dc_record FQDN [FIELD]: prints the DC's record of FQDN, or one FIELD.
sys_dc_record() {
	sys_admin "$DC_NS" 47880 GET "/v1/records/$1" | jq -r --arg field "${2-}" \
		'if $field == "" then tojson else .[$field] end'
}

# sys_ping NS VIP: sends three pings from NS to VIP and succeeds when each
# gets a reply. The output goes to ping.log in the work directory.
sys_ping() {
	echo "== ping $1 -> $2" >>"$WORK/ping.log"
	topo_exec "$1" ping -n -c 3 -i 0.2 -W 2 "$2" >>"$WORK/ping.log" 2>&1
}

# sys_make_file PATH MIB: writes MIB MiB of random bytes to PATH.
sys_make_file() {
	head -c "$(($2 * 1024 * 1024))" /dev/urandom >"$1"
}

# sys_same_file A B: succeeds when both files exist and have the same
# SHA-256 digest.
sys_same_file() {
	local a b

	[[ -f $1 && -f $2 ]] || return 1
	a=$(sha256sum <"$1") || return 1
	b=$(sha256sum <"$2") || return 1
	[[ $a == "$b" ]]
}

# sys_listening NS PORT: succeeds when a TCP socket listens on PORT in NS.
sys_listening() {
	[[ -n $(topo_exec "$1" ss -Hltn "sport = :$2") ]]
}

# sys_gena_listener NS ADDR PORT LOG: starts a UPnP event listener in NS on
# ADDR:PORT and waits until it listens. It responds 200 to each NOTIFY and
# appends the sender's address, the request line, the header and the body to
# LOG. python3's http.server has no NOTIFY handler of its own.
sys_gena_listener() {
	local ns=$1 addr=$2 port=$3 log=$4

	cat >"$WORK/listener.py" <<'PY'
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_NOTIFY(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(sys.argv[3], "ab") as log:
            log.write(("from %s\n%s %s\n" % (self.client_address[0], self.command,
                                             self.path)).encode())
            log.write(bytes(self.headers) + body + b"\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
PY
	topo_bg "$ns" "$WORK/listener.log" python3 "$WORK/listener.py" "$addr" "$port" "$log" ||
		return
	sys_wait_for 5 sys_listening "$ns" "$port"
}

# sys_gena_subscribe NS CALLBACK URL OUT [CURL_ARG...]: sends a UPnP
# SUBSCRIBE for the event URL from NS with the callback URL CALLBACK, writes
# the response to OUT and prints the SID of a 200 response. The CURL_ARGs go
# to curl, for example --interface ADDR.
sys_gena_subscribe() {
	local ns=$1 callback=$2 url=$3 out=$4 sid

	topo_exec "$ns" curl -sS --max-time 10 "${@:5}" -i -o "$out" -X SUBSCRIBE \
		-H "CALLBACK: <$callback>" -H 'NT: upnp:event' -H 'TIMEOUT: Second-300' "$url" ||
		return
	grep -aq '^HTTP/1.1 200' "$out" || {
		echo "# SUBSCRIBE $url got no 200 response" >&2
		return 1
	}
	sid=$(grep -ai '^SID:' "$out" | head -n 1 | sed -E 's/^[^:]*: *//' | tr -d '\r')
	[[ -n $sid ]] || { echo "# no SID in the SUBSCRIBE response from $url" >&2; return 1; }
	printf '%s\n' "$sid"
}

# sys_gena_unsubscribe NS URL SID [CURL_ARG...]: sends a UPnP UNSUBSCRIBE
# for SID to the event URL from NS and succeeds on a 200 response.
sys_gena_unsubscribe() {
	local ns=$1 url=$2 sid=$3

	topo_exec "$ns" curl -sS --max-time 10 "${@:4}" -i -o "$WORK/unsubscribe.txt" \
		-X UNSUBSCRIBE -H "SID: $sid" "$url" || return
	grep -aq '^HTTP/1.1 200' "$WORK/unsubscribe.txt"
}

# sys_tcp_receive NS VIP PORT OUT: starts a TCP receiver in NS on VIP:PORT
# that writes one connection's bytes to OUT, and waits until it listens.
# Sets SYS_RECEIVER_PID.
sys_tcp_receive() {
	local ns=$1 vip=$2 port=$3 out=$4

	topo_bg "$ns" "$WORK/socat.log" socat -u \
		"TCP-LISTEN:$port,bind=$vip,reuseaddr" "OPEN:$out,creat,trunc" || return
	SYS_RECEIVER_PID=$TOPO_BG_PID
	sys_wait_for 5 sys_listening "$ns" "$port"
}

# sys_tcp_send_bg NS VIP PORT FILE: starts sending FILE from NS to VIP:PORT
# over TCP in the background. Sets SYS_SENDER_PID.
sys_tcp_send_bg() {
	topo_bg "$1" "$WORK/socat.log" socat -u "OPEN:$4" "TCP:$2:$3" || return
	SYS_SENDER_PID=$TOPO_BG_PID
}

# sys_tcp_transfer FROM_NS TO_NS TO_VIP FILE [TIMEOUT_S]: sends FILE over
# TCP from FROM_NS to TO_VIP in TO_NS (default timeout 30 s) and succeeds
# when the received copy is byte-identical.
sys_tcp_transfer() {
	local from=$1 to=$2 vip=$3 file=$4 timeout=${5:-30}
	local out=$WORK/received.$RANDOM port=5001

	if ! sys_tcp_receive "$to" "$vip" "$port" "$out"; then
		echo "# no TCP receiver listens on $vip:$port in $to" >&2
		return 1
	fi
	sys_tcp_send_bg "$from" "$vip" "$port" "$file" || return
	sys_tcp_finish "$file" "$out" "$timeout"
}

# sys_tcp_finish FILE OUT TIMEOUT_S: waits for the sender and the receiver
# of a transfer and compares FILE with the received OUT, which it removes
# when they match. Explains a failure on stderr.
sys_tcp_finish() {
	local file=$1 out=$2 status

	sys_wait_pid "$SYS_SENDER_PID" "$3"
	status=$?
	if ((status != 0)); then
		echo "# TCP sender exited with status $status (124: still running after $3 s)" >&2
		kill "$SYS_SENDER_PID" "$SYS_RECEIVER_PID" 2>/dev/null
		return 1
	fi
	sys_wait_pid "$SYS_RECEIVER_PID" 5
	status=$?
	if ((status != 0)); then
		echo "# TCP receiver exited with status $status (124: still running after 5 s)" >&2
		kill "$SYS_RECEIVER_PID" 2>/dev/null
		return 1
	fi
	if ! sys_same_file "$file" "$out"; then
		echo "# received $(sys_file_size "$out") of $(sys_file_size "$file") bytes, and they differ" >&2
		return 1
	fi
	rm -f -- "$out"
}

# sys_equal EXPECTED ACTUAL: succeeds when both strings are equal, and
# otherwise prints both on stderr.
sys_equal() {
	[[ $1 == "$2" ]] && return 0
	echo "# expected '$1', got '$2'" >&2
	return 1
}

# sys_greater ACTUAL MIN: succeeds when the integer ACTUAL is greater than
# MIN, and otherwise prints both on stderr.
sys_greater() {
	[[ $1 =~ ^[0-9]+$ ]] && (($1 > $2)) && return 0
	echo "# expected a number greater than $2, got '$1'" >&2
	return 1
}

# sys_less ACTUAL MAX: succeeds when the integer ACTUAL is less than MAX,
# and otherwise prints both on stderr.
sys_less() {
	[[ $1 =~ ^[0-9]+$ ]] && (($1 < $2)) && return 0
	echo "# expected a number less than $2, got '$1'" >&2
	return 1
}

# sys_stop_daemons: stops the DC and every node agent with SIGTERM and
# succeeds when each exits with status 0 within 10 s. A sanitizer build
# reports leaks at this exit, and fails it.
sys_stop_daemons() {
	local pid status failed=0
	local -a pids=("${SYS_NODE_PID[@]}")

	[[ -n ${DC_PID-} ]] && pids+=("$DC_PID")
	for pid in "${pids[@]}"; do
		kill -0 "$pid" 2>/dev/null && kill -TERM "$pid"
	done
	for pid in "${pids[@]}"; do
		sys_wait_pid "$pid" 10 2>/dev/null
		status=$?
		if ((status != 0)); then
			echo "# process $pid exited with status $status (124: still running after 10 s)" >&2
			failed=1
		fi
	done
	return "$failed"
}

# sys_no_sanitizer_reports: succeeds when no daemon log in the work
# directory contains an AddressSanitizer, LeakSanitizer or UBSan report.
sys_no_sanitizer_reports() {
	! grep -H -m 3 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORK"/*.log >&2
}

# sys_file_size FILE: prints the size of FILE in bytes, 0 when missing.
sys_file_size() {
	stat -c %s -- "$1" 2>/dev/null || echo 0
}
