#!/usr/bin/env bash
# Benchmark of ntm-noded, ntm-dcd and ntm-rsd in network namespaces. It
# measures the tunnel set-up time, the tunnel re-creation and interruption
# after a move, and TCP throughput next to a bare veth and wireguard-go. It
# counts the network round trips of each protocol step. It also measures TCP
# throughput over a punched and a relayed tunnel, and the packet rate of
# ntm-rsd next to a minimal UDP forwarder. Its DLNA stage measures the steps
# of Table I of the Meijo prototype (see MEIJO_SOURCE) on the whole chain,
# from a player application's M-SEARCH to minidlna behind the DLNA Agent,
# and media throughput through the Agent. Prints a table and writes JSON.
# docs/benchmarks.md explains every number.
#
# Run as root on Debian 12 from any directory:
#   scripts/bench.sh [--json FILE] [--reps N] [--iperf-seconds S]
#                    [--media-mib M] [--keep-logs DIR] [--no-build]
#
# It installs missing Debian packages (scripts/deps.sh). It builds the
# daemons into build-bench/ (Release) and the load tools of scripts/bench/
# with cc into its work directory. It builds its own topology with
# tests/netns/topo.sh and removes it, with every process and temporary file,
# when it exits. Timings are reported, never checked: the exit status is 0
# unless a step failed to run (a daemon did not start, a tunnel never came
# up, a move was not followed), and then 1.
set -uo pipefail

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=$REPO/scripts/bench
BUILD=$REPO/build-bench

# --- Round trips --------------------------------------------------------------
#
# Network round trips on the critical path of each measured interval,
# counted from the messages that ntm-noded and ntm-dcd exchange
# (docs/protocol.md sections 7 to 10; nodeagent/nd_peer.c, nd_handshake.c,
# nd_mobility.c). 0.5 is a one-way trip. The namespaces add no propagation
# delay, so for a network with round-trip time RTT add RTT x count to the
# measured time. Node-DC and node-node trips are added alike, as if both
# paths had the same RTT.

# RegistrationRequest -> RegistrationResponse, node and DC. Done before any
# trigger, so it is in none of the intervals below.
readonly RT_REGISTRATION=1
# NtmQuery{vip} -> NtmQueryResponse, node and DC: the first packet names
# only the peer's VIP, so the node queries the DC for the owner's record.
readonly RT_QUERY=1
# DirectionRequest -> RouteDirection. Route case a (peer global): the DC
# sends the requester its Route Direction, 1 round trip. The peer's copy goes out at the same
# time and, where the triangle inequality holds, arrives before the Tunnel
# Request. Here, with no delay, it sometimes does not. ntm-dcd sends the
# peer's copy only microseconds before the requester's, so the peer may get
# the Tunnel Request before it has processed its copy. It then drops the
# request, and the initiator retransmits it 250 ms later
# (unknown_sender_drops counts those repetitions). Route case b (the peer behind NAT): requester to DC
# 0.5, DC to the peer 0.5, because the peer opens the tunnel.
readonly RT_DIRECTION=1
# TunnelRequest -> TunnelResponse, node and node. The responder installs
# the session when the request arrives (0.5), the initiator when the
# response arrives (1).
readonly RT_HANDSHAKE=1
# The first packet, queued at the requester until the tunnel is up, then
# sent to the peer: one way.
readonly RT_FIRST_PACKET=0.5

# Totals per measured interval.
# Case a: the requester initiates, so its tunnel is up after query,
# direction and the whole handshake.
readonly RT_SETUP_UP_A=3
readonly RT_SETUP_DELIVERED_A=3.5
# Case b: the NATed peer initiates and the requester responds, so the
# requester's tunnel is up when the Tunnel Request arrives, after query 1,
# direction 1 and half the handshake.
readonly RT_SETUP_UP_B=2.5
readonly RT_SETUP_DELIVERED_B=3
# On the netlink event the moving node sends a Tunnel Request straight to
# the peer's last endpoint (nd_mobility.c), so re-creation takes the
# handshake only. Registration, Direction Request and a second handshake
# follow alongside and are not on this path. This is true while the peer
# is global, as in both move cases here: a NATed peer's NAT would drop a
# request from the new address.
readonly RT_RECREATE=1
# Peer to moving node: the peer switches to the new endpoint when the Tunnel
# Request or the mover's first data packet arrives (0.5), and its next
# packet needs 0.5 to arrive. Packets in flight to the old address are lost.
readonly RT_GAP_DOWN=1
# Moving node to peer: the mover sends from its new address at once, and
# the peer accepts an authenticated data packet from any source address,
# so the gap is the time the mover had no usable address.
readonly RT_GAP_UP=0

# The DLNA stage (scripts/bench/dlna.sh; ssdp-proxy/ssdp_player_ipc.c,
# dad/dad_ipc.c, dad/dad_proxy.c). The player application's M-SEARCH
# reaches ntm-ssdpd on the same host, which requests the tunnel to the Agent
# from its ntm-noded over local IPC: no network trip.
# Both nodes are behind NAT, so the DC directs route case d, and with a
# relay server configured it first allocates a relay session: DC to ntm-rsd
# and back, over their ZeroMQ connection, before either Route Direction.
readonly RT_RELAY_ALLOCATION=1
# Tunnel for discovery, seen by the player, which initiates: NtmQuery{fqdn}
# 1, DirectionRequest -> RouteDirection 1, the relay allocation 1, and the
# handshake 1 on the punched path. ntm-dcd sends the responder's Route
# Direction first, and the Agent's PathProbe opens its NAT on arrival, so
# the Tunnel Request passes that NAT where the triangle inequality holds.
# Where it does not, the player sends the request again when the probe
# arrives, 0.5 more. Over the relay instead, the handshake takes 2: player
# to ntm-rsd to Agent and back.
readonly RT_DLNA_TUNNEL=4
# MSearchRequest through the tunnel -> MSearchResponse. ntm-dad sends
# LocalSsdpSearch to the home ntm-ssdpd, which responds from its cache at
# once, and nothing waits for the LAN search that it starts alongside. With
# a cold cache the response lists no server, and only a later search, after
# that LAN search, finds it.
readonly RT_DLNA_MSEARCH=1
# M-SEARCH -> first 200 OK when the first search gets the response: the
# tunnel, then the search through it.
readonly RT_DLNA_DISCOVERY=5
# Tunnel for data transfer: the server VIPs are in the Agent's pool, which
# its NTM record lists, so the player's node agent sends to them over the
# tunnel it has: no query, no handshake.
readonly RT_DLNA_TUNNEL_DATA=0
# Device information, GET of LOCATION: TCP handshake and request ->
# response over the tunnel (ntm-dad's proxy accepts through an nftables
# redirect). The proxy connects to the server only after it read the
# request, so the home LAN adds its own TCP handshake and request ->
# response in series.
readonly RT_DLNA_DEVICE_INFO=2
readonly RT_DLNA_DEVICE_INFO_LAN=2

# --- The reference -------------------------------------------------------------

readonly MEIJO_SOURCE="the NTMobile remote-DLNA prototype from Meijo University (Shimizu, Suzuki, Naito and Watanabe, IPSJ Journal, 2014)"
# Table I of that source (prototype on a local network).
readonly MEIJO_TUNNEL_DISCOVERY_MS=21.96
readonly MEIJO_DISCOVERY_MS=6.86
readonly MEIJO_TUNNEL_DATA_MS=10.12
readonly MEIJO_DEVICE_INFO_MS=8.36
# Table II: tunnel re-creation after a move, 0.08 s.
readonly MEIJO_RECREATE_MS=80

# --- Settings -------------------------------------------------------------------

REPS=5
IPERF_SECONDS=5
# Size of the media file of the DLNA stage in MiB.
MEDIA_MIB=64
JSON_OUT=$BUILD/bench.json
DO_BUILD=1
# Directory that receives the daemon logs and probe output at exit ("" = none).
KEEP_LOGS=

# UDP port of the probe receivers inside the namespaces.
readonly PROBE_PORT=47990
# TCP port of the iperf3 server inside the namespaces.
readonly IPERF_PORT=5201
# Probe stream across a move: the move happens STREAM_LEAD_SECONDS after
# the senders start, and they go on for STREAM_AFTER_SECONDS after it. A
# receiver stops at its sender's end marker, or STREAM_TAIL_SECONDS after
# the sender's planned end when the marker is lost (a slow Python start-up
# on a busy machine delays a sender).
readonly STREAM_LEAD_SECONDS=0.3
readonly STREAM_AFTER_SECONDS=1.2
readonly STREAM_TAIL_SECONDS=2
readonly STREAM_INTERVAL_MS=1
# Pause after a move, so that the re-registration and the Route Direction
# that follow it are done before the next measurement.
readonly SETTLE_SECONDS=0.7

usage() {
	cat <<'EOF'
Usage: scripts/bench.sh [--json FILE] [--reps N] [--iperf-seconds S]
                        [--media-mib M] [--keep-logs DIR] [--no-build]

Measures tunnel set-up, re-creation after a move with the interruption seen
by an application, iperf3 throughput next to a bare veth and wireguard-go,
iperf3 throughput over a punched and a relayed tunnel, the packet rate of
the relay server next to a minimal UDP forwarder, and the DLNA chain
(tunnel, discovery, device information, media throughput through the
Agent), in network namespaces. Needs root. Takes about 2 minutes after
the build.

  --json FILE         write the results to FILE (default build-bench/bench.json)
  --reps N            repetitions of each timing case, 1 to 50 (default 5)
  --iperf-seconds S   duration of each iperf3 run in seconds, 1 to 60 (default 5)
  --media-mib M       size of the media file of the DLNA stage in MiB, 1 to 512
                      (default 64)
  --keep-logs DIR     copy the daemon logs and probe output to DIR at exit
  --no-build          use the binaries in build-bench/ as they are
  -h, --help          print this help
EOF
}

parse_args() {
	while (($# > 0)); do
		case $1 in
		--json)
			[[ -n ${2-} ]] || die "--json needs a file name"
			JSON_OUT=$2
			shift 2
			;;
		--reps)
			REPS=$(number_arg --reps "${2-}" 50) || exit 1
			shift 2
			;;
		--iperf-seconds)
			IPERF_SECONDS=$(number_arg --iperf-seconds "${2-}" 60) || exit 1
			shift 2
			;;
		--media-mib)
			MEDIA_MIB=$(number_arg --media-mib "${2-}" 512) || exit 1
			shift 2
			;;
		--keep-logs)
			[[ -n ${2-} ]] || die "--keep-logs needs a directory"
			KEEP_LOGS=$2
			shift 2
			;;
		--no-build)
			DO_BUILD=0
			shift
			;;
		-h | --help)
			usage
			exit 0
			;;
		*)
			usage >&2
			die "unknown argument '$1'"
			;;
		esac
	done
}

# Usage: number_arg OPTION VALUE MAX: prints VALUE when it is a whole
# number from 1 to MAX.
number_arg() {
	if [[ $2 =~ ^[0-9]{1,3}$ ]] && ((10#$2 >= 1 && 10#$2 <= $3)); then
		echo $((10#$2))
		return 0
	fi
	echo "bench: invalid $1 '$2'; give a whole number from 1 to $3" >&2
	return 1
}

die() {
	echo "bench: $*" >&2
	exit 1
}

# shellcheck source=scripts/bench/lib.sh
. "$BENCH_DIR/lib.sh"

main() {
	local started=$SECONDS

	# The 1-minute load average before the run: other work on the shared
	# cores shows in every time measured here.
	LOAD_AVERAGE=$(cut -d ' ' -f 1 /proc/loadavg)
	parse_args "$@"
	((EUID == 0)) || die "must run as root, because it creates network namespaces"
	[[ $JSON_OUT == /* ]] || JSON_OUT=$PWD/$JSON_OUT
	bench_prepare || die "preparation failed"
	bench_topology || die "building the topology failed"
	bench_start_daemons || die "starting the daemons failed"

	echo "bench: tunnel set-up, $REPS repetitions per case" >&2
	measure_setup peer_global a c
	measure_setup one_nat a b
	echo "bench: tunnel re-creation after a move, $REPS repetitions per case" >&2
	measure_moves
	echo "bench: throughput, iperf3 TCP ${IPERF_SECONDS} s per path" >&2
	measure_throughput
	echo "bench: punched and relayed tunnels, iperf3 TCP ${IPERF_SECONDS} s per path" >&2
	measure_relay_throughput
	echo "bench: forwarding rate, ntm-rsd and udpfwd in turn, $FORWARD_REPS runs of ${FORWARD_SECONDS} s each" >&2
	measure_forwarding
	echo "bench: DLNA chain, $REPS repetitions with a fresh player node, then ${MEDIA_MIB} MiB downloads" >&2
	measure_dlna

	write_json $((SECONDS - started)) || fail "writing $JSON_OUT failed"
	print_report
	if ((${#FAILURES[@]} > 0)); then
		printf 'bench: %d step(s) failed:\n' "${#FAILURES[@]}" >&2
		printf '  %s\n' "${FAILURES[@]}" >&2
		exit 1
	fi
}

main "$@"
