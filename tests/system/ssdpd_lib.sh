# shellcheck shell=bash
# Helpers of the ntm-ssdpd system tests (test_ssdpd_*.sh), on top of lib.sh:
# configuration files, start-up, the admin API on port 47884, and the probes.

SSDPD=$BUILD/ssdp-proxy/ntm-ssdpd
SSDPIPC=$BUILD/ssdp-proxy/ntm-ssdpipc
SSDP_PROBE=$SYS_DIR/ssdp_probe.py
readonly SSDPD_ADMIN_PORT=47884

# ssdpd_require_tools TOOL...: exits with a message when a tool is missing.
ssdpd_require_tools() {
	local tool

	for tool in "$@"; do
		command -v "$tool" >/dev/null && continue
		echo "# $tool is missing; install it (see docs/ssdpd.md, Testing)" >&2
		exit 1
	done
	[[ -x $SSDPD && -x $SSDPIPC ]] && return 0
	echo "# build ntm-ssdpd and ntm-ssdpipc into $BUILD first" >&2
	exit 1
}

# ssdpd_conf_player FILE NODED_IPC AGENT_FQDN: writes a player-mode file.
ssdpd_conf_player() {
	cat >"$1" <<CONF
[ssdpd]
mode = player
log_level = debug
noded_ipc = $2
agent_fqdn = $3
[admin]
listen = 127.0.0.1:$SSDPD_ADMIN_PORT
token_file = $WORK/admin.token
CONF
}

# ssdpd_conf_home FILE LAN_IF LAN_PREFIX IPC: writes a home-mode file.
ssdpd_conf_home() {
	cat >"$1" <<CONF
[ssdpd]
mode = home
log_level = debug
lan_interface = $2
lan_prefix = $3
ipc = $4
ignore_prefix = 198.51.100.0/24
search_interval = 60
[admin]
listen = 127.0.0.1:$SSDPD_ADMIN_PORT
token_file = $WORK/admin.token
CONF
}

# ssdpd_start NS CONF: starts ntm-ssdpd in NS, logging to ssdpd-NS.log, and
# waits for its admin API. Sets SSDPD_PID.
ssdpd_start() {
	topo_bg "$1" "$WORK/ssdpd-$1.log" "$SSDPD" -f -c "$2" || return
	SSDPD_PID=$TOPO_BG_PID
	sys_wait_http "$1" "$SSDPD_ADMIN_PORT"
}

# ssdpd_get NS PATH [JQ_FILTER]: prints GET PATH of the admin API in NS, or
# JQ_FILTER applied to it (raw output).
ssdpd_get() {
	sys_admin "$1" "$SSDPD_ADMIN_PORT" GET "$2" | jq -r "${3:-.}"
}

# ssdpd_cached NS USN: succeeds when the cache in NS has an entry for USN.
ssdpd_cached() {
	[[ $(ssdpd_get "$1" /v1/cache "[.entries[] | select(.usn == \"$2\")] | length") -ge 1 ]]
}

# ssdpd_not_cached NS USN: the opposite, for sys_wait_for.
ssdpd_not_cached() {
	! ssdpd_cached "$@"
}

# ssdpd_counter NS PATH_IN_STATUS: prints one number of GET /v1/status, for
# example ".dropped.not_local" or ".counters.answers_sent".
ssdpd_counter() {
	ssdpd_get "$1" /v1/status "$2"
}

# ssdpd_counter_above NS PATH_IN_STATUS MIN: succeeds when that number is
# greater than MIN, reading it anew on each call (for sys_wait_for).
ssdpd_counter_above() {
	local value

	value=$(ssdpd_counter "$1" "$2") || return
	[[ $value =~ ^[0-9]+$ ]] && ((value > $3))
}

# ssdpd_log_has NS PATTERN: succeeds when ntm-ssdpd's log in NS matches.
ssdpd_log_has() {
	grep -q -- "$2" "$WORK/ssdpd-$1.log"
}

# file_has FILE PATTERN: succeeds when FILE exists and matches PATTERN.
file_has() {
	[[ -f $1 ]] && grep -q -- "$2" "$1"
}

# ssdpd_clean_logs: succeeds when no log in the work directory contains a
# report of AddressSanitizer, LeakSanitizer or UBSan (builds with
# -DNTM_SANITIZE=ON), and prints the reports otherwise.
ssdpd_clean_logs() {
	! grep -H -e 'Sanitizer' -e 'runtime error' -- "$WORK"/*.log >&2
}
