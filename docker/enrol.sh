#!/bin/bash
# The "enrol" service of docker-compose.yml: runs once after the DC is
# healthy, in the DC's network namespace, and enrols every node whose public
# key the keys service put into /etc/ntm/nodes/FQDN.pub, with the DC's admin
# API (POST /v1/nodes, docs/dcd.md). A node enrolled already with the same
# key counts as done. An FQDN enrolled with another key fails the service:
# the node's key was made anew after the DC had enrolled the old one.
set -euo pipefail

readonly API=${NTM_DC_API:-http://127.0.0.1:47880}
readonly NODES_DIR=${NTM_ENROL_DIR:-/etc/ntm/nodes}
readonly TOKEN_FILE=${NTM_DC_TOKEN_FILE:-/etc/ntm/admin.token}

# Prints the header line with the bearer token, for curl's -H @FILE, so
# that the token never appears in the process list.
auth_header() {
	printf 'Authorization: Bearer %s\n' "$(head -n 1 "$TOKEN_FILE")"
}

# Usage: api METHOD PATH [CURL_ARGS...]
# Prints the response body, then a line with the HTTP status.
api() {
	local method=$1 path=$2
	shift 2

	curl -sS -X "$method" -H @<(auth_header) -w '\n%{http_code}\n' "$@" "$API$path"
}

# Usage: enrol FQDN KEY
enrol() {
	local fqdn=$1 key=$2 response status

	response=$(api POST /v1/nodes -H 'Content-Type: application/json' \
		-d "{\"fqdn\": \"$fqdn\", \"public_key\": \"$key\"}") || return
	status=$(tail -n 1 <<<"$response")
	case $status in
	201)
		echo "enrol: $fqdn enrolled"
		return 0
		;;
	409) ;;
	*)
		echo "enrol: $fqdn: POST /v1/nodes failed with HTTP $status: $(head -n 1 <<<"$response")" >&2
		return 1
		;;
	esac

	# 409: the FQDN or the key is enrolled. Done when the record has this key.
	response=$(api GET "/v1/records/$fqdn") || return
	if [[ $(tail -n 1 <<<"$response") == 200 && $response == *"\"$key\""* ]]; then
		echo "enrol: $fqdn is enrolled already with this key"
		return 0
	fi
	echo "enrol: $fqdn: the DC has this FQDN or this key enrolled with another key or FQDN;" \
		"revoke it (DELETE /v1/nodes/$fqdn) or start over with 'docker-compose down -v'" >&2
	return 1
}

main() {
	local pub fqdn key failed=0

	for pub in "$NODES_DIR"/*.pub; do
		[[ -e $pub ]] || { echo "enrol: no FQDN.pub file in $NODES_DIR" >&2; return 1; }
		fqdn=$(basename -- "$pub" .pub)
		key=$(head -n 1 -- "$pub")
		enrol "$fqdn" "$key" || failed=1
	done
	return "$failed"
}

main "$@"
