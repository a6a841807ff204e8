#!/usr/bin/env bash
# The admin APIs of ntm-dcd, ntm-noded and ntm-rsd and ntmctl against real
# daemons: two nodes behind port-randomising NATs with a relayed tunnel.
# Checks every node agent and relay route with and without the token, their
# error statuses, `promtool check metrics` on each daemon's /metrics, the
# metrics a live tunnel moves, ntmctl's tables and JSON, a revocation that
# tears the live tunnel and its relay session down at once, and HTTPS.
set -uo pipefail
# shellcheck source=tests/system/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

NTMCTL=$BUILD/admin-api/ntmctl
DOMAIN=a.example

sys_init
topo_host dc
topo_internet_attach dc 203.0.113.1/24 eth0
topo_host rs
topo_internet_attach rs 203.0.113.5/24 eth0
topo_home_network r1 203.0.113.23 192.0.2.128/26 random
topo_host na
topo_attach na r1 192.0.2.130/26 eth0
topo_default_route na "$TOPO_GATEWAY"
topo_home_network r2 203.0.113.24 192.0.2.192/26 random
topo_host nb
topo_attach nb r2 192.0.2.194/26 eth0
topo_default_route nb "$TOPO_GATEWAY"

sys_rs rs 203.0.113.5 || exit 1
sys_dc dc 203.0.113.1 "$DOMAIN" 198.51.100.0/24 || exit 1
sys_node na "na.$DOMAIN" || exit 1
sys_node nb "nb.$DOMAIN" || exit 1
require "node a registers" sys_wait_registered na
require "node b registers" sys_wait_registered nb
VIP_B=$(sys_vip nb)

# ntmctl NS ARGS...: runs ntmctl inside NS with this run's token.
ntmctl() {
	local ns=$1
	shift
	topo_exec "$ns" "$NTMCTL" --token-file "$WORK/admin.token" "$@"
}

# http_status NS PORT METHOD PATH [CURL_ARGS...]: prints the HTTP status of a
# request without the token.
http_status() {
	local ns=$1 port=$2 method=$3 path=$4
	shift 4
	topo_exec "$ns" curl -s -o /dev/null -w '%{http_code}' -X "$method" "$@" \
		"http://127.0.0.1:$port$path"
}

# admin_status NS PORT METHOD PATH: the same with the token.
admin_status() {
	http_status "$@" -H "Authorization: Bearer $(cat "$WORK/admin.token")"
}

# routes_need_token NS PORT ROUTE...: each "METHOD PATH" gets 401 without a
# token and something else with it.
routes_need_token() {
	local ns=$1 port=$2 route status ok=0
	shift 2
	for route in "$@"; do
		# shellcheck disable=SC2086 # "METHOD PATH" splits on purpose
		status=$(http_status "$ns" "$port" $route)
		[[ $status == 401 ]] || { echo "# $route without a token: $status" >&2; ok=1; }
		# shellcheck disable=SC2086
		status=$(admin_status "$ns" "$port" $route)
		[[ $status != 401 ]] || { echo "# $route with the token: 401" >&2; ok=1; }
	done
	return "$ok"
}

# error_is NS PORT PATH STATUS TEXT: GET PATH returns STATUS with TEXT in
# the error message.
error_is() {
	local body status
	body=$(sys_admin "$1" "$2" GET "$3" -w '\n%{http_code}')
	status=${body##*$'\n'}
	body=${body%$'\n'*}
	sys_equal "$4" "$status" || return
	[[ $(jq -r .error.message <<<"$body") == *"$5"* ]] || {
		echo "# $3: message '$(jq -r .error.message <<<"$body")' lacks '$5'" >&2
		return 1
	}
}

# promtool_ok NS PORT: the daemon's /metrics passes `promtool check metrics`.
promtool_ok() {
	local out=$WORK/metrics.$1.$2
	sys_admin "$1" "$2" GET /metrics >"$out" || return
	promtool check metrics <"$out" >&2
}

# metric NS PORT NAME: prints the value of the sample NAME (labels included).
metric() {
	sys_admin "$1" "$2" GET /metrics | awk -v name="$3" '$1 == name { print $2 }'
}

check "node agent routes need the token" routes_need_token na 47881 \
	"GET /metrics" "GET /v1/status" "GET /v1/tunnels" "GET /v1/tunnels/x.$DOMAIN"
check "relay routes need the token" routes_need_token rs 47882 \
	"GET /metrics" "GET /v1/sessions" "GET /v1/sessions/1" "GET /v1/counters"
check "DC routes need the token" routes_need_token dc 47880 \
	"GET /metrics" "GET /v1/records" "GET /v1/directions" "GET /v1/vips" \
	"GET /v1/relays" "GET /v1/relays/sessions" "GET /v1/federation"
check "healthz needs no token" sys_equal 200 "$(http_status na 47881 GET /healthz)"

# The tunnel: a relay session at once, punching alongside.
check "ping a -> b over the tunnel" sys_ping na "$VIP_B"
check "tunnel a -> b is up" sys_wait_for 5 sys_tunnel_up na "nb.$DOMAIN"

check "node: unknown tunnel is 404" error_is na 47881 "/v1/tunnels/zz.$DOMAIN" 404 "zz.$DOMAIN"
check "node: invalid peer is 400" error_is na 47881 /v1/tunnels/Not_A_Name 400 Not_A_Name
check "node: bad state filter is 400" error_is na 47881 "/v1/tunnels?state=asleep" 400 asleep
check "node: bad limit is 400" error_is na 47881 "/v1/tunnels?limit=lots" 400 "limit 'lots'"
check "node: unknown argument is 400" error_is na 47881 "/v1/status?verbose=1" 400 verbose
check "relay: bad session id is 400" error_is rs 47882 /v1/sessions/xyz 400 xyz
check "relay: unknown session is 404" error_is rs 47882 /v1/sessions/0123abcd 404 0123abcd
check "relay: offset too large is 400" error_is rs 47882 "/v1/sessions?offset=99999999999999" 400 offset
tunnels_paged() {
	local page
	page=$(sys_admin na 47881 GET "/v1/tunnels?limit=0")
	sys_equal 0 "$(jq '.tunnels | length' <<<"$page")" &&
		sys_greater "$(jq .total <<<"$page")" 0
}
check "node: tunnels page with limit 0 keeps the total" tunnels_paged

check "promtool accepts ntm-dcd's metrics" promtool_ok dc 47880
check "promtool accepts ntm-noded's metrics" promtool_ok na 47881
check "promtool accepts ntm-rsd's metrics" promtool_ok rs 47882
check "node: a tunnel set-up is in the histogram" \
	sys_greater "$(metric na 47881 ntm_node_tunnel_setup_duration_seconds_count)" 0
check "node: tunnel bytes are counted per peer" \
	sys_greater "$(metric na 47881 "ntm_node_tunnel_transmit_bytes_total{peer=\"nb.$DOMAIN\"}")" 0
check "relay: relayed bytes are counted" \
	sys_greater "$(metric rs 47882 ntm_rs_relayed_bytes_total)" 0
check "DC: the direction is counted" \
	sys_greater "$(metric dc 47880 ntm_dc_route_directions_total)" 0

# ntmctl's tables for a registered node with a live tunnel.
STATUS=$(ntmctl na status)
echo "$STATUS" | sed 's/^/# /'
status_line_ok() {
	head -n 1 <<<"$STATUS" | grep -q "na.$DOMAIN  registered with DC 203.0.113.1:47800"
}
check "ntmctl status: the node's registration" status_line_ok
tunnel_row_ok() {
	grep -E "^$VIP_B +nb\.$DOMAIN +up +(relayed|punched) +[0-9.]+:[0-9]+ " <<<"$STATUS"
}
check "ntmctl status: the tunnel's row" tunnel_row_ok
check "ntmctl tunnels --json: the peer's VIP" \
	sys_equal "$VIP_B" "$(ntmctl na tunnels --json | jq -r --arg p "nb.$DOMAIN" \
		'.tunnels[] | select(.peer_fqdn == $p) | .peer_vip')"
tunnel_detail_up() {
	ntmctl na tunnels "nb.$DOMAIN" | grep -Eq '^state +up$'
}
check "ntmctl tunnels PEER: one tunnel in detail" tunnel_detail_up
RECORDS=$(ntmctl dc records)
echo "$RECORDS" | sed 's/^/# /'
check "ntmctl records: both nodes online" \
	sys_equal 2 "$(grep -cE "^198\.51\.100\.[0-9]+ +n[ab]\.$DOMAIN +online +203\.0\.113\.2[34]:[0-9]+ +yes" <<<"$RECORDS")"
check "ntmctl records --offline: none" sys_equal "no records" "$(ntmctl dc records --offline)"
check "ntmctl records VIP: the record" \
	sys_equal "nb.$DOMAIN" "$(ntmctl dc records --json "$VIP_B" | jq -r .fqdn)"
directions_listed() {
	ntmctl dc directions | grep -Eq "na\.$DOMAIN +nb\.$DOMAIN +two_nats +requester"
}
check "ntmctl directions: the tunnel's direction" directions_listed
check "ntmctl relays on the DC: one session" \
	sys_equal 1 "$(ntmctl dc relays --json | jq '.sessions.total')"
check "ntmctl relays on the RS: one session" \
	sys_equal 1 "$(ntmctl rs --url http://127.0.0.1:47882 relays --json | jq .total)"
vips_listed() {
	ntmctl dc vips | grep -q "^prefix 198.51.100.0/24 owned by $DOMAIN (this DC)$"
}
check "ntmctl vips: the DC's prefix" vips_listed

unreachable_named() {
	local err
	err=$(ntmctl na --url http://127.0.0.1:47899 tunnels 2>&1 >/dev/null)
	[[ $? -ne 0 || -n $err ]] || return 1
	echo "# $err"
	[[ $err == "ntmctl: cannot reach ntm-noded at http://127.0.0.1:47899: "*"refused"* ||
		$err == "ntmctl: cannot reach ntm-noded at http://127.0.0.1:47899: "*"onnect"* ]]
}
check "ntmctl names the daemon it cannot reach" unreachable_named
wrong_token_named() {
	local err
	echo "not-the-token-0123456789" >"$WORK/wrong.token"
	err=$(topo_exec dc "$NTMCTL" --token-file "$WORK/wrong.token" records 2>&1 >/dev/null)
	echo "# $err"
	[[ $err == *"ntm-dcd at http://127.0.0.1:47880"*"401 unauthorized"* ]]
}
check "ntmctl explains a wrong token" wrong_token_named

# Revocation ends the live tunnel and its relay session at once.
revoke_b() {
	ntmctl dc revoke "nb.$DOMAIN" | grep -q "^revoked nb.$DOMAIN; told 1 online node to drop its"
}
check "ntmctl revoke" revoke_b
tunnel_gone() {
	[[ $(admin_status na 47881 GET "/v1/tunnels/nb.$DOMAIN") == 404 ]]
}
check "revocation: node a drops its tunnel to b within 1 s" sys_wait_for 1 tunnel_gone
rs_empty() {
	[[ $(sys_admin rs 47882 GET /v1/sessions | jq .total) == 0 ]]
}
check "revocation: the relay session ends" sys_wait_for 2 rs_empty
check "revocation: the DC keeps no relay session" \
	sys_equal 0 "$(sys_admin dc 47880 GET /v1/relays/sessions | jq .total)"
check "revocation: node b's agent stops" sys_wait_pid "${SYS_NODE_PID[nb]}" 5
ping_fails() {
	! topo_exec na ping -n -c 1 -W 1 "$VIP_B" >/dev/null 2>&1
}
check "revocation: ping a -> b fails" ping_fails
check "revocation: node b's record is gone" \
	sys_equal 404 "$(admin_status dc 47880 GET "/v1/records/nb.$DOMAIN")"

# HTTPS: a second ntm-rsd whose admin API has a certificate.
topo_host tls
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$WORK/admin.key" -out "$WORK/admin.crt" 2>/dev/null
chmod 600 "$WORK/admin.key"
sed -e 's/^listen = .*:47820$/listen = 127.0.0.1:47820/' \
	-e 's/^public_endpoint = .*/public_endpoint = 127.0.0.1:47820/' \
	-e 's/^listen = .*:47821$/listen = 127.0.0.1:47821/' \
	-e "s|^token_file = .*|&\ncert_file = $WORK/admin.crt\nkey_file = $WORK/admin.key|" \
	"$WORK/rsd.conf" >"$WORK/rsd-tls.conf"
topo_bg tls "$WORK/rsd-tls.log" "$BUILD/rsd/ntm-rsd" -f -c "$WORK/rsd-tls.conf"
TLS_PID=$TOPO_BG_PID
https_up() {
	topo_exec tls curl -sf --cacert "$WORK/admin.crt" https://127.0.0.1:47882/healthz >/dev/null
}
check "HTTPS: healthz with the certificate" sys_wait_for 5 https_up
plain_http_fails() {
	! topo_exec tls curl -sf -m 2 http://127.0.0.1:47882/healthz >/dev/null
}
check "HTTPS: plain HTTP gets no answer" plain_http_fails
check "HTTPS: the token is still needed" \
	sys_equal 401 "$(topo_exec tls curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/admin.crt" https://127.0.0.1:47882/v1/counters)"
ntmctl_https() {
	ntmctl tls --cacert "$WORK/admin.crt" --url https://127.0.0.1:47882 relays |
		grep -q '^no relay sessions$'
}
check "HTTPS: ntmctl with --cacert" ntmctl_https
cacert_hint() {
	local err
	err=$(topo_exec tls "$NTMCTL" --token-file "$WORK/admin.token" \
		--url https://127.0.0.1:47882 status 2>&1 >/dev/null)
	echo "# $err"
	[[ $err == *"--cacert"* ]]
}
check "HTTPS: ntmctl without the CA says to pass --cacert" cacert_hint
kill -TERM "$TLS_PID"
sys_wait_pid "$TLS_PID" 5 2>/dev/null
chmod 644 "$WORK/admin.key"
key_mode_rejected() {
	local out
	out=$(topo_exec tls "$BUILD/rsd/ntm-rsd" -f -c "$WORK/rsd-tls.conf" 2>&1)
	[[ $? -ne 0 && $out == *"admin.key: the admin API private key file is accessible by group or others"* ]]
}
check "HTTPS: a key readable by others is rejected" key_mode_rejected

unset 'SYS_NODE_PID[nb]'
check "daemons stop cleanly on SIGTERM" sys_stop_daemons
rs_stops() {
	kill -TERM "$RS_PID" && sys_wait_pid "$RS_PID" 10 2>/dev/null
}
check "ntm-rsd stops cleanly on SIGTERM" rs_stops
check "no sanitizer reports in daemon logs" sys_no_sanitizer_reports
sys_summary
