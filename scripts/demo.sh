#!/usr/bin/env bash
# Runs the suite's main job on this machine, as root on Debian 12: installs
# what is missing, builds, then starts a Direction Coordinator on loopback
# with two scripted nodes and shows registration, NAT detection, queries and
# the route the DC chooses for each case. Everything it starts is stopped
# and removed on exit, also on Ctrl-C or failure.
#
# Usage: scripts/demo.sh
set -euo pipefail

# shellcheck source=scripts/deps.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/deps.sh"

BUILD=$NTM_REPO_ROOT/build-demo
WORK=
DC_PID=
SERVE_PID=

step() { printf '\n== %s\n' "$*"; }

cleanup() {
	[[ -n $SERVE_PID ]] && kill "$SERVE_PID" 2>/dev/null || true
	[[ -n $DC_PID ]] && kill "$DC_PID" 2>/dev/null || true
	wait 2>/dev/null || true
	[[ -n $WORK ]] && rm -rf -- "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

admin() {
	local method=$1 path=$2
	shift 2
	curl -sS -X "$method" -H "Authorization: Bearer $(cat "$WORK/admin.token")" \
		-H 'Content-Type: application/json' "$@" "http://127.0.0.1:$ADMIN_PORT$path"
}

enrol() {
	local fqdn=$1 key=$2
	"$BUILD/admin-api/ntm-keygen" "$key" >/dev/null
	admin POST /v1/nodes -d "{\"fqdn\":\"$fqdn\",\"public_key\":\"$(cat "$key.pub")\"}" \
		| jq -r '"enrolled \(.fqdn): VIP \(.vip)"'
}

node() {
	local fqdn=$1
	shift
	"$BUILD/tests/integration/ntm-scriptnode" --dc "127.0.0.1:$DC_PORT" \
		--dc-key "$(cat "$WORK/dc.key.pub")" --key "$WORK/$fqdn.key" --fqdn "$fqdn" "$@"
}

free_port() {
	python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

setup() {
	step "Installing what is missing and building (first run only takes minutes)"
	ntm_install_deps
	ntm_build "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

	WORK=$(mktemp -d /tmp/ntm-demo.XXXXXX)
	DC_PORT=$(free_port)
	ADMIN_PORT=$(free_port)
	"$BUILD/admin-api/ntm-keygen" "$WORK/dc.key" >/dev/null
	head -c 32 /dev/urandom | base64 >"$WORK/admin.token"
	chmod 600 "$WORK/admin.token"
	cat >"$WORK/dcd.conf" <<EOF
[dc]
domain = home.example
listen = 127.0.0.1:$DC_PORT
private_key_file = $WORK/dc.key
database = $WORK/dcd.sqlite
vip_prefix = 198.51.100.0/24
[admin]
listen = 127.0.0.1:$ADMIN_PORT
token_file = $WORK/admin.token
EOF
}

start_dc() {
	step "Starting the Direction Coordinator for home.example on 127.0.0.1:$DC_PORT"
	"$BUILD/dcd/ntm-dcd" -f -c "$WORK/dcd.conf" 2>"$WORK/dcd.log" &
	DC_PID=$!
	for _ in $(seq 50); do
		curl -sf "http://127.0.0.1:$ADMIN_PORT/healthz" >/dev/null && return
		sleep 0.1
	done
	echo "the DC did not start; its log:" >&2
	cat "$WORK/dcd.log" >&2
	exit 1
}

show_records() {
	admin GET /v1/records | jq -r '.records[] |
		"  \(.fqdn)  VIP \(.vip)  observed \(.observed // "-")  behind NAT: \(.behind_nat)  online: \(.online)"'
}

main() {
	setup
	start_dc

	step "Enrolling two nodes through the admin API"
	enrol agent.home.example "$WORK/agent.home.example.key"
	enrol player.home.example "$WORK/player.home.example.key"

	step "The DLNA Agent's node registers from 127.0.0.2, reporting a private address (so it is behind NAT)"
	node agent.home.example --bind 127.0.0.2 --report 192.0.2.10:47830 serve --seconds 30 \
		>"$WORK/agent.out" &
	SERVE_PID=$!
	sleep 0.5
	head -n 1 "$WORK/agent.out"

	step "The player's node, on a global address, asks for a tunnel to the Agent"
	node player.home.example --bind 127.0.0.1 direct agent.home.example
	sleep 0.3
	echo "what the Agent's node received:"
	sed -n '2,$p' "$WORK/agent.out" | sed 's/^/  /'

	step "The player moves behind another NAT (observed 127.0.0.3, private address reported)"
	node player.home.example --bind 127.0.0.3 --report 192.0.2.70:47830 direct agent.home.example

	step "The player comes home: same observed address as the Agent, so private addresses first"
	node player.home.example --bind 127.0.0.2 --report 192.0.2.20:47830 direct agent.home.example

	step "NTM records at the DC"
	show_records
	step "Done"
}

main "$@"
