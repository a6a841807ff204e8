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

sys_init() {
	topo_init
	WORK=$(mktemp -d /tmp/ntm-system.XXXXXX)
	trap 'rm -rf -- "$WORK"' EXIT
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

sys_summary() {
	echo "$SYS_PASSED passed, $SYS_FAILED failed"
	((SYS_FAILED == 0))
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
CONF
	topo_bg "$ns" "$WORK/dcd.log" "$BUILD/dcd/ntm-dcd" -f -c "$WORK/dcd.conf"
	DC_NS=$ns
	DC_ADDR=$addr
	sys_wait_http "$ns" 47880 || { cat "$WORK/dcd.log"; return 1; }
}

# sys_wait_http NS PORT: waits up to 5 s for /healthz on 127.0.0.1:PORT in NS.
sys_wait_http() {
	local i
	for i in $(seq 50); do
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
[admin]
listen = 127.0.0.1:47881
token_file = $WORK/admin.token
CONF
	topo_bg "$ns" "$WORK/$fqdn.log" "$BUILD/nodeagent/ntm-noded" -f -c "$WORK/$fqdn.conf"
	sys_wait_http "$ns" 47881 || { cat "$WORK/$fqdn.log"; return 1; }
}

# sys_wait_registered NS: waits up to 5 s for the node agent in NS to register.
sys_wait_registered() {
	local i
	for i in $(seq 50); do
		sys_admin "$1" 47881 GET /v1/status | grep -q '"registered": *true' && return 0
		sleep 0.1
	done
	return 1
}

# sys_vip NS: prints the VIP of the node agent in NS.
sys_vip() {
	sys_admin "$1" 47881 GET /v1/status | jq -r .vip
}
