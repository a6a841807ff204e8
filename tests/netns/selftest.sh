#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Self-test of tests/netns/topo.sh. Builds small topologies in network
# namespaces and checks reachability, NAT, moves, NAT rebinding, loss,
# blocking, rate limits, the address checks, the timing helpers and the
# cleanup, also of a child script killed with SIGTERM or SIGKILL.
#
# Run as root: bash tests/netns/selftest.sh
# Needs iproute2, nftables, procps, socat and iputils-ping. Takes about
# 10 s. All traffic stays inside the namespaces it creates, which it
# removes on exit. Ends with the line "N passed, N failed" and exits 1 when
# any check failed.
set -euo pipefail

SELFTEST_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=topo.sh
. "$SELFTEST_DIR/topo.sh"

# The UDP echo server on the Internet host pub1 replies to each datagram
# with its source address and port as received, "ADDR:PORT".
readonly ECHO_ADDR=203.0.113.20
readonly ECHO_PORT=7000

passed=0
failed=0
work_dir=
# PID of the running child script of the cleanup tests, empty when none.
child_pid=

# Usage: check NAME COMMAND [ARGS...]
check() {
	local name=$1
	shift

	if "$@"; then
		echo "ok - $name"
		passed=$((passed + 1))
	else
		echo "not ok - $name"
		failed=$((failed + 1))
	fi
}

# Usage: expect_equal WHAT ACTUAL EXPECTED
expect_equal() {
	[[ $2 == "$3" ]] && return 0
	echo "  $1: expected '$3', got '$2'" >&2
	return 1
}

# Usage: udp_query NS SOURCE_PORT
# Sends one datagram from NS to the echo server and prints the reply.
udp_query() {
	topo_exec "$1" timeout 3 socat -t 0.5 - \
		"UDP4:$ECHO_ADDR:$ECHO_PORT,sourceport=$2,reuseaddr" <<<probe
}

# Usage: ping_once NS ADDR
ping_once() {
	topo_exec "$1" ping -n -q -c 1 -W 1 "$2" >/dev/null
}

# Usage: ipv4_addresses NS IFNAME: prints the IPv4 addresses of IFNAME.
ipv4_addresses() {
	topo_exec "$1" ip -o -4 address show dev "$2" | awk '{ print $4 }'
}

# Usage: wait_for_file PATH: waits up to 10 s for PATH to exist.
wait_for_file() {
	local tries

	for ((tries = 200; tries > 0; tries--)); do
		[[ -s $1 ]] && return 0
		sleep 0.05
	done
	echo "  timed out waiting for $1" >&2
	return 1
}

# Usage: ns_count PREFIX: prints how many namespaces are named PREFIX*.
ns_count() {
	ip netns list | awk -v prefix="$1" 'index($1, prefix) == 1' | wc -l
}

# --- Topology builders and checks -------------------------------------------

internet_ping() {
	topo_host pub1 || return
	topo_internet_attach pub1 "$ECHO_ADDR/24" eth0 || return
	topo_host pub2 || return
	topo_internet_attach pub2 203.0.113.21/24 eth0 || return

	ping_once pub1 203.0.113.21 || return
	ping_once pub2 "$ECHO_ADDR"
}

start_echo_server() {
	local reply tries

	# The shell reads one byte first: exiting before socat has written the
	# datagram to it would fail that write and lose the reply.
	# shellcheck disable=SC2016 # socat's shell expands these, not this one
	topo_bg pub1 "$work_dir/echo.log" socat "UDP4-RECVFROM:$ECHO_PORT,fork" \
		SYSTEM:'head -c 1 >/dev/null; echo "$SOCAT_PEERADDR:$SOCAT_PEERPORT"' || return
	for ((tries = 20; tries > 0; tries--)); do
		reply=$(topo_exec pub2 timeout 3 socat -t 0.2 - "UDP4:$ECHO_ADDR:$ECHO_PORT" <<<probe) || reply=
		[[ $reply == 203.0.113.21:* ]] && return 0
	done
	echo "  echo server on pub1 did not reply; see $work_dir/echo.log" >&2
	return 1
}

home_network_build() {
	topo_home_network home 203.0.113.10 192.0.2.0/26 || return
	expect_equal "router" "$TOPO_ROUTER" home-gw || return
	expect_equal "gateway" "$TOPO_GATEWAY" 192.0.2.1 || return
	topo_host player || return
	topo_attach player home 192.0.2.2/26 eth0 || return
	topo_default_route player "$TOPO_GATEWAY"
}

nat_public_source() {
	local reply

	reply=$(udp_query player 40001) || return
	expect_equal "source seen by the echo server" "$reply" 203.0.113.10:40001
}

random_nat_port() {
	local port reply changed=0

	topo_home_network foreign 203.0.113.11 192.0.2.64/26 random || return
	topo_host laptop || return
	topo_attach laptop foreign 192.0.2.66/26 eth0 || return
	topo_default_route laptop "$TOPO_GATEWAY" || return

	for port in 40011 40012 40013; do
		reply=$(udp_query laptop "$port") || return
		expect_equal "source address" "${reply%:*}" 203.0.113.11 || return
		[[ ${reply##*:} == "$port" ]] || changed=$((changed + 1))
	done
	((changed > 0)) && return 0
	echo "  fully-random NAT kept every source port" >&2
	return 1
}

move_to_foreign() {
	local output reply

	output=$(topo_move player eth0 foreign 192.0.2.67/26 192.0.2.65 2>&1) || return
	expect_equal "topo_move output" "$output" "" || return
	expect_equal "eth0 addresses after the move" "$(ipv4_addresses player eth0)" "" || return
	expect_equal "eth1 addresses after the move" "$(ipv4_addresses player eth1)" 192.0.2.67/26 ||
		return
	reply=$(udp_query player 40002) || return
	expect_equal "source address after the move" "${reply%:*}" 203.0.113.11
}

move_back_home() {
	local reply start end links

	start=$(topo_now_us)
	topo_move player eth1 home 192.0.2.2/26 192.0.2.1 || return
	end=$(topo_now_us)
	echo "  topo_move onto an existing interface took $(((end - start) / 1000)) ms"

	# The move must bring eth0 back up, not create a third interface.
	links=$(topo_exec player ip -o link show type veth | wc -l)
	expect_equal "veth count" "$links" 2 || return
	reply=$(udp_query player 40003) || return
	expect_equal "source after moving back" "$reply" 203.0.113.10:40003 || return
	ping_once player "$ECHO_ADDR"
}

nat_rebind() {
	local reply

	reply=$(udp_query player 40020) || return
	expect_equal "source before the rebind" "$reply" 203.0.113.10:40020 || return
	topo_nat_rebind home-gw wan0 203.0.113.12 || return
	expect_equal "wan0 addresses" "$(ipv4_addresses home-gw wan0)" 203.0.113.12/24 || return

	# Same 5-tuple as before: a kept conntrack entry would still map it to
	# the old address.
	reply=$(udp_query player 40020) || return
	expect_equal "source after the rebind" "$reply" 203.0.113.12:40020
}

loss_all_and_none() {
	local chains

	topo_loss player eth0 100 || return
	if ping_once player "$ECHO_ADDR"; then
		echo "  ping passed with 100 % loss" >&2
		return 1
	fi
	topo_loss player eth0 0 || return
	ping_once player "$ECHO_ADDR" || return
	chains=$(topo_exec player nft list table netdev ntm_topo) || return
	if [[ $chains == *loss_eth0* ]]; then
		echo "  loss chain still present after topo_loss 0" >&2
		return 1
	fi
}

# With 50 % loss in each direction a quarter of the pings get a reply on
# average. 0 or 40 replies out of 40 have a probability below 1e-4.
loss_partial() {
	local received

	topo_loss player eth0 50 || return
	received=$(topo_exec player ping -n -q -c 40 -i 0.01 -W 1 "$ECHO_ADDR" |
		awk '/ received/ { for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^received/) print $i }')
	topo_loss player eth0 0 || return
	if [[ $received =~ ^[0-9]+$ ]] && ((received > 0 && received < 40)); then
		echo "  $received of 40 pings answered"
		return 0
	fi
	echo "  expected some but not all of 40 pings answered, got '$received'" >&2
	return 1
}

block_and_unblock() {
	topo_block player eth0 || return
	if ping_once player "$ECHO_ADDR"; then
		echo "  ping passed through a blocked link" >&2
		return 1
	fi
	topo_unblock player eth0 || return
	ping_once player "$ECHO_ADDR"
}

rate_limit() {
	local qdiscs

	topo_rate player eth0 10mbit || return
	qdiscs=$(topo_exec player tc qdisc show dev eth0) || return
	[[ $qdiscs == *"tbf "*"rate 10Mbit"* ]] || {
		echo "  no tbf on eth0: $qdiscs" >&2
		return 1
	}
	qdiscs=$(topo_exec home tc qdisc show) || return
	[[ $qdiscs == *"tbf "*"rate 10Mbit"* ]] || {
		echo "  no tbf on the LAN side of eth0: $qdiscs" >&2
		return 1
	}
	topo_rate player eth0 0 || return
	qdiscs=$(topo_exec player tc qdisc show dev eth0) || return
	[[ $qdiscs != *tbf* ]] || {
		echo "  tbf left on eth0 after topo_rate 0" >&2
		return 1
	}
}

# Usage: expect_rejected COMMAND [ARGS...]: the call must fail.
expect_rejected() {
	if "$@" 2>/dev/null; then
		echo "  accepted: $*" >&2
		return 1
	fi
}

address_checks() {
	topo_host probe || return
	expect_rejected topo_attach probe home 198.51.100.5/26 || return
	expect_rejected topo_attach probe home 10.0.0.5/24 || return
	expect_rejected topo_attach probe home 192.0.2.5/16 || return
	expect_rejected topo_internet_attach probe 192.0.2.5/24 || return
	expect_rejected topo_default_route probe 198.51.100.1 || return
	expect_rejected topo_home_network bad 203.0.113.30 192.0.2.1/26 || return
	expect_rejected topo_host probe || return
	expect_rejected topo_host 'bad name' || return
	expect_rejected topo_attach probe home 192.0.2.5/26 name-longer-than-15
}

timing_helpers() {
	local now gap
	local -a samples=(1000 2000 2900 7900 8900)

	now=$(topo_now_us)
	[[ $now =~ ^[0-9]{16}$ ]] || {
		echo "  topo_now_us printed '$now'" >&2
		return 1
	}
	topo_mark T_move 1000 || return
	topo_mark T_recreated 3500 || return
	expect_equal "interval" "$(topo_interval_ms T_move T_recreated)" 2.500 || return
	expect_rejected topo_mark T_unknown || return

	printf '%s\n' "${samples[@]}" >"$work_dir/probes"
	gap=$(topo_max_gap_ms "$work_dir/probes") || return
	expect_equal "max gap" "$gap" 5.000
}

# --- Cleanup of a child script -------------------------------------------------

# Usage: start_child
# Starts a child bash that builds a small topology with a background
# process and waits. Sets child_pid, child_prefix and child_bg_pid.
start_child() {
	local child_dir=$work_dir/child

	rm -rf "$child_dir"
	mkdir "$child_dir" || return
	# shellcheck disable=SC2016 # expanded by the child
	bash -c '
		set -euo pipefail
		. "$1"
		trap "echo previous >\"$2/exit-trap\"" EXIT
		topo_init
		topo_host a
		topo_lan lan
		topo_attach a lan 192.0.2.130/26 eth0
		topo_bg a /dev/null sleep 300
		echo "$TOPO_PREFIX $TOPO_BG_PID" >"$2/ready"
		wait "$TOPO_BG_PID"
	' child "$SELFTEST_DIR/topo.sh" "$child_dir" &
	child_pid=$!
	wait_for_file "$child_dir/ready" || return
	read -r child_prefix child_bg_pid <"$child_dir/ready"
}

# Usage: wait_child: waits up to 10 s for the child and sets child_status.
wait_child() {
	local tries

	for ((tries = 200; tries > 0; tries--)); do
		kill -0 "$child_pid" 2>/dev/null || break
		sleep 0.05
	done
	if ((tries == 0)); then
		echo "  child $child_pid still runs; killing it" >&2
		kill -KILL "$child_pid" 2>/dev/null
	fi
	child_status=0
	wait "$child_pid" || child_status=$?
	child_pid=
}

child_sigterm() {
	start_child || return
	expect_equal "child namespaces while it runs" "$(ns_count "$child_prefix")" 3 || return
	kill -TERM "$child_pid"
	wait_child
	expect_equal "child exit status" "$child_status" 143 || return
	expect_equal "child namespaces after SIGTERM" "$(ns_count "$child_prefix")" 0 || return
	expect_equal "child's earlier EXIT trap" "$(cat "$work_dir/child/exit-trap" 2>/dev/null)" \
		previous || return
	if _topo_alive "$child_bg_pid"; then
		echo "  background process $child_bg_pid survived" >&2
		return 1
	fi
}

child_sigkill_stale() {
	start_child || return
	kill -KILL "$child_pid"
	# Hides bash's "Killed" job report.
	wait_child 2>/dev/null
	expect_equal "child namespaces after SIGKILL" "$(ns_count "$child_prefix")" 3 || return

	topo_cleanup_stale 2>"$work_dir/stale.log" || return
	expect_equal "child namespaces after topo_cleanup_stale" "$(ns_count "$child_prefix")" 0 ||
		return
	if _topo_alive "$child_bg_pid"; then
		echo "  background process $child_bg_pid survived" >&2
		return 1
	fi
	# The live run's own namespaces must stay.
	if (($(ns_count "$TOPO_PREFIX") == 0)); then
		echo "  topo_cleanup_stale removed the namespaces of a live run" >&2
		return 1
	fi
}

final_cleanup() {
	local echo_pid=${TOPO_BG_PIDS[0]-}

	topo_cleanup || return
	expect_equal "namespaces after topo_cleanup" "$(ns_count "$TOPO_PREFIX")" 0 || return
	if [[ -n $echo_pid ]] && _topo_alive "$echo_pid"; then
		echo "  echo server $echo_pid survived" >&2
		return 1
	fi
	topo_cleanup
}

# Stops a child script still running and waits while its own trap removes
# its namespaces, then removes the work directory. topo_init keeps this
# trap and runs it after topo_cleanup.
on_exit() {
	if [[ -n $child_pid ]]; then
		kill -TERM "$child_pid" 2>/dev/null || true
		wait "$child_pid" 2>/dev/null || true
	fi
	rm -rf -- "$work_dir"
}

main() {
	local tool

	for tool in socat ping timeout; do
		command -v "$tool" >/dev/null && continue
		echo "selftest: $tool not found; install socat and iputils-ping" >&2
		exit 1
	done
	work_dir=$(mktemp -d "${TMPDIR:-/tmp}/ntmt-selftest.XXXXXX")
	trap on_exit EXIT
	topo_init

	check "internet hosts ping each other" internet_ping
	check "echo server starts" start_echo_server
	check "home network builds" home_network_build
	check "nat source is router address" nat_public_source
	check "random nat changes ports" random_nat_port
	check "move to foreign lan" move_to_foreign
	check "move back reuses interface" move_back_home
	check "nat rebind maps to new address" nat_rebind
	check "loss 100 blocks and 0 restores" loss_all_and_none
	check "loss 50 drops some pings" loss_partial
	check "block and unblock" block_and_unblock
	check "rate limit both ends" rate_limit
	check "address and name checks" address_checks
	check "timing helpers" timing_helpers
	check "sigterm child cleans up" child_sigterm
	check "sigkill child stale cleanup" child_sigkill_stale
	check "cleanup removes everything" final_cleanup

	echo "$passed passed, $failed failed"
	((failed == 0))
}

main "$@"
