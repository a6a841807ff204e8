# shellcheck shell=bash
# Network-namespace topology library for the system tests, the demo and the
# benchmark. Source it, call topo_init, then build hosts, routers and LANs:
#
#   . tests/netns/topo.sh
#   topo_init
#   topo_home_network home 203.0.113.10 192.0.2.0/26
#   topo_host player
#   topo_attach player home 192.0.2.2/26 eth0
#   topo_default_route player "$TOPO_GATEWAY"
#
# Every namespace is named "$TOPO_PREFIX<name>" with TOPO_PREFIX=ntmt-<pid>-,
# so parallel runs never collide and leftovers name the run that made them.
# Nothing is created in the root namespace: veth pairs are created directly
# inside their namespaces, and nftables rules live in the namespace they
# filter. tests/netns/README.md has the address plan and the full API.
#
# Functions return 0 on success and non-zero with a message on stderr on
# failure. They check every step themselves, so they work under "set -e"
# and inside "if" alike. Needs bash 4.4 or later, root, iproute2, nftables
# and procps (sysctl).

if [[ -n ${_TOPO_SOURCED-} ]]; then
	return 0
fi
_TOPO_SOURCED=1

# Per-run prefix of every namespace name, set by topo_init.
TOPO_PREFIX=
# PIDs started by topo_bg, killed by topo_cleanup.
TOPO_BG_PIDS=()
# Outputs of the last call: topo_attach sets TOPO_IF, topo_bg sets
# TOPO_BG_PID, topo_home_network sets TOPO_ROUTER and TOPO_GATEWAY.
TOPO_IF=
TOPO_BG_PID=
TOPO_ROUTER=
TOPO_GATEWAY=

# Name of the emulated Internet, a LAN like any other (see topo_init).
readonly TOPO_INTERNET=inet
# Table that contains every nftables chain this library creates in a namespace.
readonly _TOPO_NFT_TABLE=ntm_topo
# Seconds topo_cleanup waits after SIGTERM before it sends SIGKILL.
readonly _TOPO_KILL_GRACE_S=2

# The timing points of the benchmark and the demo, defined in README.md.
readonly -a TOPO_TIMING_POINTS=(T_trigger T_tunnel_up T_delivered T_move T_recreated)
# Time in microseconds since the epoch of each point recorded by topo_mark.
declare -gA TOPO_MARKS=()

# The first veth of each "NODE LAN" pair, so that topo_move finds the
# interface to bring back up without a lookup.
declare -gA _TOPO_VETHS=()

# Trap commands that were installed before topo_init, keyed by signal name.
declare -gA _TOPO_PREVIOUS_TRAPS=()
_TOPO_TRAPS_INSTALLED=

# --- Internal helpers --------------------------------------------------------

# Usage: _topo_error FUNCTION MESSAGE
_topo_error() {
	printf '%s: %s\n' "$1" "$2" >&2
	return 1
}

# Usage: _topo_require_init FUNCTION
_topo_require_init() {
	[[ -n $TOPO_PREFIX ]] && return 0
	_topo_error "$1" "topology not initialised; call topo_init first"
}

# Usage: _topo_check_name FUNCTION NAME
# Names become part of namespace and interface names, so they are limited
# to letters, digits, '_' and '-', starting with a letter or digit.
_topo_check_name() {
	if [[ $2 =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$ ]]; then
		return 0
	fi
	_topo_error "$1" "invalid name '$2'; use 1 to 32 letters, digits, '_' or '-', starting with a letter or digit"
}

# Usage: _topo_check_ifname FUNCTION IFNAME
# Linux limits interface names to 15 bytes (IFNAMSIZ - 1). Dots are left out
# because sysctl uses them as path separators.
_topo_check_ifname() {
	if [[ $2 =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,14}$ ]]; then
		return 0
	fi
	_topo_error "$1" "invalid interface name '$2'; use 1 to 15 letters, digits, '_' or '-'"
}

# Usage: _topo_ns_exists NAME
_topo_ns_exists() {
	[[ -e /run/netns/$TOPO_PREFIX$1 ]]
}

# Usage: _topo_require_ns FUNCTION NAME
_topo_require_ns() {
	_topo_ns_exists "$2" && return 0
	_topo_error "$1" "network namespace $TOPO_PREFIX$2 not found; create '$2' with topo_host, topo_router or topo_lan first"
}

# Usage: _topo_bridge_of VAR LAN: stores the name of LAN's bridge in VAR.
_topo_bridge_of() {
	if [[ $2 == "$TOPO_INTERNET" ]]; then
		printf -v "$1" '%s' inet-br
	else
		printf -v "$1" '%s' lan-br
	fi
}

# Usage: _topo_require_lan FUNCTION LAN
_topo_require_lan() {
	local bridge

	_topo_require_ns "$1" "$2" || return
	_topo_bridge_of bridge "$2"
	ip -n "$TOPO_PREFIX$2" link show dev "$bridge" >/dev/null 2>&1 && return 0
	_topo_error "$1" "'$2' has no bridge $bridge; create the LAN with topo_lan"
}

# Usage: _topo_ip_to_int VAR A.B.C.D
# Stores the address as a 32-bit integer in VAR. Fails on anything that is
# not four decimal octets.
_topo_ip_to_int() {
	local _topo_octet _topo_value=0
	local -a _topo_octets

	[[ $2 =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || return 1
	IFS=. read -ra _topo_octets <<<"$2"
	for _topo_octet in "${_topo_octets[@]}"; do
		((10#$_topo_octet <= 255)) || return 1
		_topo_value=$((_topo_value * 256 + 10#$_topo_octet))
	done
	printf -v "$1" '%d' "$_topo_value"
}

# Usage: _topo_int_to_ip VAR N
_topo_int_to_ip() {
	printf -v "$1" '%d.%d.%d.%d' $(($2 >> 24 & 255)) $(($2 >> 16 & 255)) \
		$(($2 >> 8 & 255)) $(($2 & 255))
}

# Usage: _topo_in_range ADDR_INT NETWORK PREFIX_LEN
_topo_in_range() {
	local network mask

	_topo_ip_to_int network "$2" || return 1
	mask=$(((0xffffffff << (32 - $3)) & 0xffffffff))
	((($1 & mask) == network))
}

# Usage: _topo_check_topology_ip FUNCTION A.B.C.D
# The topology uses 192.0.2.0/24 (LANs) and 203.0.113.0/24 (the Internet)
# only. 198.51.100.0/24 is kept for the suite's virtual IPs, and any other
# address could name a real host outside the namespaces.
_topo_check_topology_ip() {
	local value

	if ! _topo_ip_to_int value "$2"; then
		_topo_error "$1" "invalid IPv4 address '$2'"
		return
	fi
	if _topo_in_range "$value" 192.0.2.0 24 || _topo_in_range "$value" 203.0.113.0 24; then
		return 0
	fi
	if _topo_in_range "$value" 198.51.100.0 24; then
		_topo_error "$1" "address $2 is in 198.51.100.0/24, which is reserved for virtual IPs; use 192.0.2.0/24 or 203.0.113.0/24"
		return
	fi
	_topo_error "$1" "address $2 is outside the topology ranges; use 192.0.2.0/24 (LANs) or 203.0.113.0/24 (the Internet)"
}

# Usage: _topo_check_cidr FUNCTION ADDR/PREFIX
# Prefixes shorter than /24 are rejected so that no on-link route leaves
# the documentation ranges.
_topo_check_cidr() {
	local address=${2%/*} length=${2#*/}

	if [[ $2 != */* || ! $length =~ ^[0-9]{1,2}$ ]] || ((10#$length < 24 || 10#$length > 32)); then
		_topo_error "$1" "invalid address '$2'; expected ADDR/PREFIX with a prefix length from 24 to 32"
		return
	fi
	_topo_check_topology_ip "$1" "$address"
}

# Usage: _topo_link_names NS: prints the interface names of namespace NS,
# one a line, without the "@peer" suffix.
_topo_link_names() {
	ip -n "$1" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'
}

# Usage: _topo_free_ifname NS BASE: prints BASE<n> for the lowest n not in use.
_topo_free_ifname() {
	local -a names
	local n=0

	mapfile -t names < <(_topo_link_names "$1") || return
	while [[ " ${names[*]} " == *" $2$n "* ]]; do
		n=$((n + 1))
	done
	printf '%s%d\n' "$2" "$n"
}

# Usage: _topo_veth_create FUNCTION NS LAN IFNAME
# Creates a veth pair with IFNAME (down) in NS and its peer in LAN's
# namespace, enslaved to the bridge and up. The peer is named after the
# host side, "<ns>-<ifname>", truncated to 15 bytes, or veth<n> when taken.
_topo_veth_create() {
	local fn=$1 ns=$TOPO_PREFIX$2 lan_ns=$TOPO_PREFIX$3 ifname=$4
	local peer bridge keep
	local -a names

	_topo_bridge_of bridge "$3"
	keep=$((14 - ${#ifname}))
	peer="${2:0:keep}-$ifname"
	mapfile -t names < <(_topo_link_names "$lan_ns") || return
	if ((keep < 1)) || [[ " ${names[*]} " == *" $peer "* ]]; then
		peer=$(_topo_free_ifname "$lan_ns" veth) || return
	fi

	if ! ip -n "$lan_ns" -batch - <<-EOF; then
		link add $peer type veth peer name $ifname netns $ns
		link set $peer master $bridge up
	EOF
		_topo_error "$fn" "failed to create veth $ifname in $ns with peer $peer in $lan_ns"
		return
	fi
	if [[ -z ${_TOPO_VETHS["$2 $3"]-} ]]; then
		_TOPO_VETHS["$2 $3"]=$ifname
	fi
}

# Usage: _topo_sysctl FUNCTION NS KEY=VALUE...
_topo_sysctl() {
	local fn=$1 ns=$TOPO_PREFIX$2
	shift 2

	ip netns exec "$ns" sysctl -qw "$@" && return 0
	_topo_error "$fn" "failed to set $* in $ns"
}

# Usage: _topo_ns_create FUNCTION NAME
_topo_ns_create() {
	local ns=$TOPO_PREFIX$2

	_topo_check_name "$1" "$2" || return
	if _topo_ns_exists "$2"; then
		_topo_error "$1" "network namespace $ns already exists; choose another name"
		return
	fi
	if ! ip netns add "$ns"; then
		_topo_error "$1" "failed to create network namespace $ns"
		return
	fi
	ip -n "$ns" link set lo up || _topo_error "$1" "failed to bring up lo in $ns"
}

# Usage: _topo_node_create FUNCTION NAME FORWARD(0|1)
# A node is a host or a router. IPv4 settings of a new namespace are copied
# from the root namespace (net.core.devconf_inherit_init_net=0), so the
# settings that the tests rely on are set here explicitly: reverse-path
# filtering off, because a moving host briefly has asymmetric routes, and
# promote_secondaries on, so that removing an address (topo_nat_rebind)
# keeps the other addresses of its subnet and the routes through them.
# IPv6 is off on the interfaces created later, so that no link-local
# address or DAD event follows a move; lo keeps ::1.
_topo_node_create() {
	_topo_ns_create "$1" "$2" || return
	_topo_sysctl "$1" "$2" "net.ipv4.ip_forward=$3" \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		net.ipv4.conf.all.promote_secondaries=1 \
		net.ipv4.conf.default.promote_secondaries=1 \
		net.ipv6.conf.default.disable_ipv6=1
}

# Usage: _topo_peer_of FUNCTION NS IFNAME
# Prints "LAN_NAMESPACE PEER_IFNAME" for a veth created by this library.
_topo_peer_of() {
	local fn=$1 ns=$TOPO_PREFIX$2 ifname=$3 line peer_index peer_ns

	if ! line=$(ip -n "$ns" -o link show dev "$ifname" 2>/dev/null); then
		_topo_error "$fn" "interface $ifname not found in $ns"
		return
	fi
	if [[ ! $line =~ ^[0-9]+:\ [^@]+@if([0-9]+):.*\ link-netns\ ([^ ]+) ]]; then
		_topo_error "$fn" "interface $ifname in $ns is not a veth attached by topo_attach"
		return
	fi
	peer_index=${BASH_REMATCH[1]}
	peer_ns=${BASH_REMATCH[2]}
	ip -n "$peer_ns" -o link show | awk -F': ' -v ns="$peer_ns" -v idx="$peer_index" \
		'$1 == idx { sub(/@.*/, "", $2); print ns, $2; found = 1 } END { exit !found }' ||
		_topo_error "$fn" "peer of $ifname (index $peer_index) not found in $peer_ns"
}

# Usage: _topo_nft FUNCTION NS: runs the nft script on stdin inside NS.
_topo_nft() {
	ip netns exec "$TOPO_PREFIX$2" nft -f - && return 0
	_topo_error "$1" "nft failed in $TOPO_PREFIX$2"
}

# Usage: _topo_ingress_drop FUNCTION NAMESPACE IFNAME CHAIN PERCENT
# Sets a netdev ingress chain on IFNAME in the full-named NAMESPACE that
# drops PERCENT of the frames, or deletes the chain for 0. The chain is
# added before it is flushed and deleted so that each step is valid whether
# or not it existed.
_topo_ingress_drop() {
	local fn=$1 ns=$2 ifname=$3 chain=$4 percent=$5
	local script

	script="add table netdev $_TOPO_NFT_TABLE
add chain netdev $_TOPO_NFT_TABLE $chain { type filter hook ingress device \"$ifname\" priority 0; }
flush chain netdev $_TOPO_NFT_TABLE $chain"
	if ((percent == 0)); then
		script+=$'\n'"delete chain netdev $_TOPO_NFT_TABLE $chain"
	elif ((percent == 100)); then
		script+=$'\n'"add rule netdev $_TOPO_NFT_TABLE $chain drop"
	else
		script+=$'\n'"add rule netdev $_TOPO_NFT_TABLE $chain numgen random mod 100 < $percent drop"
	fi
	ip netns exec "$ns" nft -f - <<<"$script" && return 0
	_topo_error "$fn" "failed to set the $chain drop rule on $ifname in $ns"
}

# Usage: _topo_link_drop FUNCTION NS IFNAME KIND PERCENT
# Drops PERCENT of the frames in both directions of the link NS:IFNAME: on
# ingress of IFNAME for what NS receives, and on ingress of the peer in the
# LAN for what NS sends. Ingress drops look like loss on the wire, whereas a
# drop on the sending side's output path returns EPERM to the application.
_topo_link_drop() {
	local fn=$1 ns=$2 ifname=$3 kind=$4 percent=$5
	local peer_ns peer peer_line

	_topo_require_init "$fn" || return
	_topo_require_ns "$fn" "$ns" || return
	_topo_check_ifname "$fn" "$ifname" || return
	peer_line=$(_topo_peer_of "$fn" "$ns" "$ifname") || return
	read -r peer_ns peer <<<"$peer_line"

	_topo_ingress_drop "$fn" "$TOPO_PREFIX$ns" "$ifname" "${kind}_$ifname" "$percent" || return
	_topo_ingress_drop "$fn" "$peer_ns" "$peer" "${kind}_$peer" "$percent"
}

# Usage: _topo_alive PID: succeeds while PID runs and is not a zombie.
_topo_alive() {
	local stat

	[[ -r /proc/$1/stat ]] || return 1
	read -r stat <"/proc/$1/stat" 2>/dev/null || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != Z ]]
}

# Usage: _topo_kill PID...
# Sends SIGTERM, waits up to _TOPO_KILL_GRACE_S seconds, then sends SIGKILL
# to the survivors.
_topo_kill() {
	local pid tries
	local -a alive=()

	(($# > 0)) || return 0
	kill -TERM "$@" 2>/dev/null
	for ((tries = _TOPO_KILL_GRACE_S * 20; tries > 0; tries--)); do
		alive=()
		for pid in "$@"; do
			_topo_alive "$pid" && alive+=("$pid")
		done
		((${#alive[@]} > 0)) || return 0
		sleep 0.05
	done
	kill -KILL "${alive[@]}" 2>/dev/null
	return 0
}

# Usage: _topo_remove_namespaces NS...
# Kills every process inside the full-named namespaces, then deletes them,
# which also deletes their veths and nftables tables.
_topo_remove_namespaces() {
	local ns status=0
	local -a pids=() ns_pids

	for ns in "$@"; do
		mapfile -t ns_pids < <(ip netns pids "$ns" 2>/dev/null)
		pids+=("${ns_pids[@]}")
	done
	_topo_kill "${pids[@]}"
	for ns in "$@"; do
		if ! ip netns delete "$ns" 2>/dev/null && [[ -e /run/netns/$ns ]]; then
			echo "topo_cleanup: failed to delete network namespace $ns; delete it with 'ip netns delete $ns'" >&2
			status=1
		fi
	done
	return "$status"
}

# Usage: _topo_trap_command SIGNAL
# Prints the command of the trap now set for SIGNAL. Fails when none is set.
_topo_trap_command() {
	local line

	line=$(trap -p "$1")
	[[ -n $line ]] || return 1
	# trap -p prints "trap -- 'COMMAND' SIGNAL", quoted for reuse as input.
	eval "set -- $line"
	printf '%s' "$3"
}

# Usage: _topo_set_status N: sets $? to N for the command that follows.
_topo_set_status() {
	return "$1"
}

_topo_on_exit() {
	local status=$?

	topo_cleanup || true
	[[ -n ${_TOPO_PREVIOUS_TRAPS[EXIT]-} ]] || return "$status"
	# The earlier trap gets the exit status in $?. A failing command on the
	# left of || does not trigger errexit, so this also works under set -e.
	if ((status == 0)); then
		eval "${_TOPO_PREVIOUS_TRAPS[EXIT]}"
	else
		_topo_set_status "$status" || eval "${_TOPO_PREVIOUS_TRAPS[EXIT]}"
	fi
	return "$status"
}

# Usage: _topo_on_signal SIGNAL EXIT_STATUS
# Cleans up, then runs the trap that was set before topo_init, or exits
# with EXIT_STATUS (128 + signal number) when there was none.
_topo_on_signal() {
	topo_cleanup || true
	if [[ -n ${_TOPO_PREVIOUS_TRAPS[$1]-} ]]; then
		eval "${_TOPO_PREVIOUS_TRAPS[$1]}"
		return
	fi
	exit "$2"
}

# Installs the EXIT, INT and TERM traps once, keeping the commands of the
# traps set before. A signal that was ignored (trap '' SIGNAL) stays
# ignored.
_topo_install_traps() {
	local signal previous

	[[ -z $_TOPO_TRAPS_INSTALLED ]] || return 0
	previous=$(_topo_trap_command EXIT) || previous=
	_TOPO_PREVIOUS_TRAPS[EXIT]=$previous
	trap _topo_on_exit EXIT
	for signal in INT TERM; do
		if previous=$(_topo_trap_command "$signal"); then
			[[ -n $previous ]] || continue
		else
			previous=
		fi
		_TOPO_PREVIOUS_TRAPS[$signal]=$previous
		# shellcheck disable=SC2064 # the signal name is expanded now on purpose
		trap "_topo_on_signal $signal $((128 + $(kill -l "$signal")))" "$signal"
	done
	_TOPO_TRAPS_INSTALLED=1
}

# --- Setup -------------------------------------------------------------------

# Usage: topo_init
# Checks the environment, sets TOPO_PREFIX=ntmt-<pid>-, installs the
# cleanup traps, removes namespaces an earlier process with the same PID
# left, and creates the Internet: namespace "inet" with bridge inet-br.
topo_init() {
	local tool

	if ((EUID != 0)); then
		_topo_error topo_init "must run as root, because it creates network namespaces"
		return
	fi
	for tool in ip nft sysctl; do
		command -v "$tool" >/dev/null && continue
		_topo_error topo_init "$tool not found; install iproute2, nftables and procps"
		return
	done
	if [[ -n $TOPO_PREFIX ]]; then
		_topo_error topo_init "already initialised with prefix $TOPO_PREFIX"
		return
	fi

	TOPO_PREFIX="ntmt-$$-"
	_topo_install_traps
	topo_cleanup || return
	topo_lan "$TOPO_INTERNET"
}

# Usage: topo_ns NAME: prints the full namespace name of NAME.
topo_ns() {
	_topo_require_init topo_ns || return
	printf '%s%s\n' "$TOPO_PREFIX" "$1"
}

# Usage: topo_host NAME
# Creates a host namespace: loopback up, IP forwarding off.
topo_host() {
	_topo_require_init topo_host || return
	_topo_node_create topo_host "$1" 0
}

# Usage: topo_router NAME
# Creates a router namespace: loopback up, IP forwarding on.
topo_router() {
	_topo_require_init topo_router || return
	_topo_node_create topo_router "$1" 1
}

# Usage: topo_lan NAME
# Creates a LAN: its own namespace holding one bridge (lan-br) with multicast
# snooping off, so that SSDP multicast reaches every port as on a switch
# without an IGMP querier. The namespace has no addresses and never routes.
# A LAN gets its own namespace, not the router's, so that hosts can move
# between LANs whatever routers exist and a LAN may have several routers.
topo_lan() {
	local ns=$TOPO_PREFIX$1 bridge

	_topo_require_init topo_lan || return
	_topo_ns_create topo_lan "$1" || return
	# Without IPv6 the bridge ports send no router or neighbour solicitations.
	_topo_sysctl topo_lan "$1" net.ipv6.conf.default.disable_ipv6=1 || return
	_topo_bridge_of bridge "$1"
	if ! ip -n "$ns" -batch - <<-EOF; then
		link add $bridge type bridge mcast_snooping 0
		link set $bridge up
	EOF
		_topo_error topo_lan "failed to create bridge $bridge in $ns"
		return
	fi
}

# Usage: topo_attach NS LAN ADDR/PREFIX|- [IFNAME]
# Connects NS to LAN's bridge with a new veth pair, sets the address ("-"
# for none) and brings the interface up. The first interface of NS with an
# address also gets the route 239.0.0.0/8, which SSDP multicast needs while
# NS has no default route. IFNAME defaults to the first free eth<n>. Sets
# TOPO_IF to the interface name, and prints it when IFNAME was not given.
topo_attach() {
	local fn=topo_attach
	local name=${1-} lan=${2-} address=${3-} ifname=${4-} ns

	_topo_require_init "$fn" || return
	if [[ -z $name || -z $lan || -z $address ]]; then
		_topo_error "$fn" "usage: topo_attach NS LAN ADDR/PREFIX|- [IFNAME]"
		return
	fi
	_topo_require_ns "$fn" "$name" || return
	_topo_require_lan "$fn" "$lan" || return
	[[ $address == - ]] || _topo_check_cidr "$fn" "$address" || return
	ns=$TOPO_PREFIX$name
	if [[ -n $ifname ]]; then
		_topo_check_ifname "$fn" "$ifname" || return
	else
		ifname=$(_topo_free_ifname "$ns" eth) || return
	fi

	_topo_veth_create "$fn" "$name" "$lan" "$ifname" || return
	if ! ip -n "$ns" link set dev "$ifname" up; then
		_topo_error "$fn" "failed to bring up $ifname in $ns"
		return
	fi
	if [[ $address != - ]]; then
		_topo_address_add "$fn" "$ns" "$ifname" "$address" || return
	fi
	# shellcheck disable=SC2034 # an output for the caller
	TOPO_IF=$ifname
	[[ -n ${4-} ]] || printf '%s\n' "$ifname"
}

# Usage: _topo_address_add FUNCTION NAMESPACE IFNAME ADDR/PREFIX
_topo_address_add() {
	local fn=$1 ns=$2 ifname=$3 address=$4 multicast

	if ! ip -n "$ns" address add "$address" dev "$ifname"; then
		_topo_error "$fn" "failed to add $address to $ifname in $ns"
		return
	fi
	multicast=$(ip -n "$ns" route show 239.0.0.0/8) || return
	[[ -z $multicast ]] || return 0
	ip -n "$ns" route add 239.0.0.0/8 dev "$ifname" ||
		_topo_error "$fn" "failed to add the multicast route on $ifname in $ns"
}

# Usage: topo_internet_attach NS ADDR/24 [IFNAME]
# topo_attach to the Internet, checking that ADDR is in 203.0.113.0/24.
topo_internet_attach() {
	local value

	_topo_require_init topo_internet_attach || return
	_topo_check_cidr topo_internet_attach "${2-}" || return
	_topo_ip_to_int value "${2%/*}"
	if ! _topo_in_range "$value" 203.0.113.0 24; then
		_topo_error topo_internet_attach "address $2 is not in the Internet range 203.0.113.0/24"
		return
	fi
	topo_attach "$1" "$TOPO_INTERNET" "$2" "${@:3}"
}

# Usage: topo_default_route NS VIA [IFNAME]
# Sets (replaces) the default route of NS.
topo_default_route() {
	local fn=topo_default_route name=${1-} via=${2-} ifname=${3-}
	local -a device=()

	_topo_require_init "$fn" || return
	_topo_require_ns "$fn" "$name" || return
	_topo_check_topology_ip "$fn" "$via" || return
	if [[ -n $ifname ]]; then
		device=(dev "$ifname")
	fi
	ip -n "$TOPO_PREFIX$name" route replace default via "$via" "${device[@]}" && return 0
	_topo_error "$fn" "failed to set the default route via $via in $TOPO_PREFIX$name"
}

# Usage: topo_nat ROUTER OUT_IF [random]
# Masquerades everything ROUTER sends out of OUT_IF. With "random" the NAT
# also randomises the source port of every new mapping (nft "masquerade
# fully-random", the same kernel flag as iptables MASQUERADE
# --random-fully), which makes it behave like a symmetric NAT towards STUN
# and hole punching. Calling it again for OUT_IF replaces the rule.
# Like a home router's firewall, it drops new UDP flows from OUT_IF to the
# router itself. Without that, Linux confirms a conntrack entry for an
# unsolicited punching probe that reaches the router, and that entry then
# takes the port the NAT needs for the local host's own outgoing mapping.
topo_nat() {
	local fn=topo_nat router=${1-} out_if=${2-} mode=${3-} flags=

	_topo_require_init "$fn" || return
	_topo_require_ns "$fn" "$router" || return
	_topo_check_ifname "$fn" "$out_if" || return
	case $mode in
	'') ;;
	random) flags=" fully-random" ;;
	*)
		_topo_error "$fn" "invalid mode '$mode'; use 'random' or nothing"
		return
		;;
	esac

	_topo_nft "$fn" "$router" <<-EOF
		add table inet $_TOPO_NFT_TABLE
		add chain inet $_TOPO_NFT_TABLE nat_$out_if { type nat hook postrouting priority srcnat; }
		flush chain inet $_TOPO_NFT_TABLE nat_$out_if
		add rule inet $_TOPO_NFT_TABLE nat_$out_if oifname "$out_if" masquerade$flags
		add chain inet $_TOPO_NFT_TABLE in_$out_if { type filter hook input priority filter; }
		flush chain inet $_TOPO_NFT_TABLE in_$out_if
		add rule inet $_TOPO_NFT_TABLE in_$out_if iifname "$out_if" ct state new meta l4proto udp drop
	EOF
}

# Usage: topo_home_network NAME ROUTER_PUBLIC_IP LAN_PREFIX [random]
# Builds a LAN NAME, a NAT router NAME-gw with wan0 on the Internet at
# ROUTER_PUBLIC_IP/24 and lan0 on the LAN at the first address of
# LAN_PREFIX, and masquerading on wan0 ("random" as in topo_nat). Sets
# TOPO_ROUTER to the router's name and TOPO_GATEWAY to its LAN address,
# the default route for the hosts of the LAN.
topo_home_network() {
	local fn=topo_home_network name=${1-} public=${2-} prefix=${3-} mode=${4-}
	local network length network_int gateway router

	_topo_require_init "$fn" || return
	if [[ -z $name || -z $public || $prefix != */* ]]; then
		_topo_error "$fn" "usage: topo_home_network NAME ROUTER_PUBLIC_IP LAN_PREFIX [random]"
		return
	fi
	public=${public%/24}
	network=${prefix%/*}
	length=${prefix#*/}
	_topo_check_cidr "$fn" "$prefix" || return
	_topo_ip_to_int network_int "$network"
	length=$((10#$length))
	if ((length > 30 || (network_int & ((1 << (32 - length)) - 1)) != 0)) ||
		! _topo_in_range "$network_int" 192.0.2.0 24; then
		_topo_error "$fn" "invalid LAN prefix '$prefix'; give a network in 192.0.2.0/24 with a prefix length from 24 to 30, such as 192.0.2.0/26"
		return
	fi
	_topo_int_to_ip gateway $((network_int + 1))
	router=$name-gw

	topo_lan "$name" || return
	topo_router "$router" || return
	topo_internet_attach "$router" "$public/24" wan0 || return
	topo_attach "$router" "$name" "$gateway/$length" lan0 || return
	topo_nat "$router" wan0 "$mode" || return
	# shellcheck disable=SC2034 # outputs for the caller
	TOPO_ROUTER=$router
	# shellcheck disable=SC2034 # outputs for the caller
	TOPO_GATEWAY=$gateway
}

# --- Changes during a test -----------------------------------------------------

# Usage: _topo_veth_to NS LAN EXCLUDE_IF: prints the first veth of the full-
# named NS whose peer is in LAN's namespace, other than EXCLUDE_IF.
_topo_veth_to() {
	ip -n "$1" -o link show type veth |
		awk -v lan="$TOPO_PREFIX$2" -v exclude="$3" '
			{
				name = $2
				sub(/@.*/, "", name)
				sub(/:$/, "", name)
				for (i = 3; i < NF; i++) {
					if ($i == "link-netns" && $(i + 1) == lan && name != exclude && !found) {
						print name
						found = 1
					}
				}
			}'
}

# Usage: topo_move NS FROM_IF TO_LAN ADDR/PREFIX VIA
# Moves host NS to another network. Removes the addresses of FROM_IF and
# sets it down, then brings up NS's interface into TO_LAN, adds ADDR and
# sets the default route via VIA. That interface is the one left from an
# earlier attach or move, or else a new veth. The host-side changes run in
# one "ip -batch", so the old address goes less than a millisecond before
# the new one comes. Prints nothing but errors.
topo_move() {
	local fn=topo_move name=${1-} from_if=${2-} lan=${3-} address=${4-} via=${5-}
	local ns=$TOPO_PREFIX${1-} to_if

	_topo_require_init "$fn" || return
	if [[ -z $name || -z $from_if || -z $lan || -z $address || -z $via ]]; then
		_topo_error "$fn" "usage: topo_move NS FROM_IF TO_LAN ADDR/PREFIX VIA"
		return
	fi
	# Only checks without a fork here: the move should take one "ip" run.
	_topo_require_ns "$fn" "$name" || return
	_topo_require_ns "$fn" "$lan" || return
	_topo_check_ifname "$fn" "$from_if" || return
	_topo_check_cidr "$fn" "$address" || return
	_topo_check_topology_ip "$fn" "$via" || return

	to_if=${_TOPO_VETHS["$name $lan"]-}
	if [[ -z $to_if || $to_if == "$from_if" ]]; then
		# Not attached by this shell, for example by a topo_attach in $(...).
		to_if=$(_topo_veth_to "$ns" "$lan" "$from_if") || return
	fi
	if [[ -z $to_if ]]; then
		to_if=$(_topo_free_ifname "$ns" eth) || return
		_topo_veth_create "$fn" "$name" "$lan" "$to_if" || return
	fi

	if ! ip -n "$ns" -batch - <<-EOF; then
		address flush dev $from_if
		link set dev $from_if down
		link set dev $to_if up
		address add $address dev $to_if
		route replace default via $via dev $to_if
	EOF
		_topo_error "$fn" "failed to move $ns from $from_if to $to_if in LAN $lan"
		return
	fi
}

# Usage: topo_nat_rebind ROUTER OUT_IF NEW_ADDR[/PREFIX]
# Replaces the global IPv4 addresses of OUT_IF with NEW_ADDR (by default
# with the old prefix length). The new address is added before the old one
# is removed, so the routes through OUT_IF stay. Removing the address makes
# the kernel's masquerade code drop the conntrack entries that were mapped
# to it, so existing flows get new mappings: a real NAT rebinding.
topo_nat_rebind() {
	local fn=topo_nat_rebind router=${1-} out_if=${2-} new=${3-}
	local ns=$TOPO_PREFIX${1-} old batch
	local -a olds=()

	_topo_require_init "$fn" || return
	_topo_require_ns "$fn" "$router" || return
	_topo_check_ifname "$fn" "$out_if" || return
	mapfile -t olds < <(ip -n "$ns" -o -4 address show dev "$out_if" scope global |
		awk '{ print $4 }')
	if ((${#olds[@]} == 0)); then
		_topo_error "$fn" "$out_if in $ns has no global IPv4 address to replace"
		return
	fi
	[[ $new == */* ]] || new+="/${olds[0]#*/}"
	_topo_check_cidr "$fn" "$new" || return

	batch="address add $new dev $out_if"
	for old in "${olds[@]}"; do
		[[ $old == "$new" ]] || batch+=$'\n'"address del $old dev $out_if"
	done
	ip -n "$ns" -batch - <<<"$batch" && return 0
	_topo_error "$fn" "failed to replace ${olds[*]} with $new on $out_if in $ns"
}

# Usage: topo_loss NS IFNAME PERCENT
# Drops PERCENT (0 to 100) of the frames in each direction of NS's link
# IFNAME, ARP included. PERCENT 0 removes the rule. Each frame is dropped
# independently (nft "numgen random"), so the loss of a round trip is
# 1 - (1 - PERCENT/100)^2.
topo_loss() {
	local percent=${3-}

	if [[ ! $percent =~ ^[0-9]{1,3}$ ]] || ((10#$percent > 100)); then
		_topo_error topo_loss "invalid loss '$percent'; give a whole percentage from 0 to 100"
		return
	fi
	_topo_link_drop topo_loss "${1-}" "${2-}" loss $((10#$percent))
}

# Usage: topo_block NS IFNAME
# Drops every frame in both directions of NS's link IFNAME until
# topo_unblock, independently of topo_loss.
topo_block() {
	_topo_link_drop topo_block "${1-}" "${2-}" block 100
}

# Usage: topo_unblock NS IFNAME
topo_unblock() {
	_topo_link_drop topo_unblock "${1-}" "${2-}" block 0
}

# Usage: _topo_tbf FUNCTION NAMESPACE IFNAME RATE|0
# Sets a token bucket filter as the root qdisc of IFNAME in the full-named
# NAMESPACE, or removes the root qdisc for 0.
_topo_tbf() {
	local fn=$1 ns=$2 ifname=$3 rate=$4

	if [[ $rate == 0 ]]; then
		# Deleting fails when no root qdisc was set, which is the goal anyway.
		tc -n "$ns" qdisc del dev "$ifname" root 2>/dev/null
		return 0
	fi
	# A 64 KiB bucket lets a burst of about 40 full-size frames through at
	# line speed, and 50 ms of queue bounds the added latency.
	tc -n "$ns" qdisc replace dev "$ifname" root tbf rate "$rate" burst 64kb latency 50ms &&
		return 0
	_topo_error "$fn" "failed to set rate $rate on $ifname in $ns"
}

# Usage: topo_rate NS IFNAME RATE|0
# Limits each direction of NS's link IFNAME to RATE (a tc rate such as
# 20mbit) with a token bucket filter on the egress of both veth ends. 0
# removes the limits.
topo_rate() {
	local fn=topo_rate name=${1-} ifname=${2-} rate=${3-}
	local peer_line peer_ns peer

	_topo_require_init "$fn" || return
	_topo_require_ns "$fn" "$name" || return
	_topo_check_ifname "$fn" "$ifname" || return
	if [[ $rate != 0 && ! $rate =~ ^[0-9]+(\.[0-9]+)?([kmg]?bit|[kmg]?bps)$ ]]; then
		_topo_error "$fn" "invalid rate '$rate'; use a tc rate such as 500kbit or 20mbit, or 0"
		return
	fi
	peer_line=$(_topo_peer_of "$fn" "$name" "$ifname") || return
	read -r peer_ns peer <<<"$peer_line"

	_topo_tbf "$fn" "$TOPO_PREFIX$name" "$ifname" "$rate" || return
	_topo_tbf "$fn" "$peer_ns" "$peer" "$rate"
}

# --- Processes -----------------------------------------------------------------

# Usage: topo_exec NS COMMAND [ARGS...]
# Runs COMMAND inside NS and returns its status.
topo_exec() {
	_topo_require_init topo_exec || return
	_topo_require_ns topo_exec "${1-}" || return
	ip netns exec "$TOPO_PREFIX$1" "${@:2}"
}

# Usage: topo_bg NS LOGFILE COMMAND [ARGS...]
# Starts COMMAND inside NS in the background with stdout and stderr
# appended to LOGFILE and stdin from /dev/null. Sets TOPO_BG_PID and records
# it for topo_cleanup. "ip netns exec" execs the command, so the PID is the
# command's own. Call it directly, not in $(...), so the record survives.
topo_bg() {
	local fn=topo_bg name=${1-} log=${2-}

	_topo_require_init "$fn" || return
	if (($# < 3)); then
		_topo_error "$fn" "usage: topo_bg NS LOGFILE COMMAND [ARGS...]"
		return
	fi
	_topo_require_ns "$fn" "$name" || return
	if ! : >>"$log"; then
		_topo_error "$fn" "cannot write log file '$log'"
		return
	fi
	ip netns exec "$TOPO_PREFIX$name" "${@:3}" >>"$log" 2>&1 </dev/null &
	TOPO_BG_PID=$!
	TOPO_BG_PIDS+=("$TOPO_BG_PID")
}

# --- Cleanup -------------------------------------------------------------------

# Usage: topo_cleanup
# Kills the processes started by topo_bg and every other process inside
# this run's namespaces (SIGTERM, SIGKILL after 2 s), then deletes every
# namespace named $TOPO_PREFIX*, which removes their veths and nftables
# rules. Nothing else exists, because the library creates nothing in the
# root namespace. Safe to call any number of times.
topo_cleanup() {
	local ns pid
	local -a namespaces=() pids=()

	[[ -n ${TOPO_PREFIX-} ]] || return 0
	mapfile -t namespaces < <(ip netns list 2>/dev/null |
		awk -v prefix="$TOPO_PREFIX" 'index($1, prefix) == 1 { print $1 }')
	# A recorded PID whose process left the namespaces has been reused by
	# an unrelated process, so only PIDs still inside them are killed.
	for pid in "${TOPO_BG_PIDS[@]}"; do
		ns=$(ip netns identify "$pid" 2>/dev/null) || continue
		[[ $ns == "$TOPO_PREFIX"* ]] && pids+=("$pid")
	done
	_topo_kill "${pids[@]}"
	TOPO_BG_PIDS=()
	_TOPO_VETHS=()
	((${#namespaces[@]} > 0)) || return 0
	_topo_remove_namespaces "${namespaces[@]}"
}

# Usage: topo_cleanup_stale
# Removes the namespaces named ntmt-<pid>-* whose process <pid> no longer
# runs, with the processes inside them: what a run killed by SIGKILL
# leaves. Other ntmt-* names are left alone. Reports each removal on
# stderr.
topo_cleanup_stale() {
	local ns pid
	local -a namespaces stale=()

	mapfile -t namespaces < <(ip netns list 2>/dev/null | awk '{ print $1 }')
	for ns in "${namespaces[@]}"; do
		[[ $ns =~ ^ntmt-([0-9]+)- ]] || continue
		pid=${BASH_REMATCH[1]}
		if ((pid == $$)) || _topo_alive "$pid"; then
			continue
		fi
		echo "topo_cleanup_stale: removing network namespace $ns, because process $pid that created it no longer runs" >&2
		stale+=("$ns")
	done
	((${#stale[@]} > 0)) || return 0
	_topo_remove_namespaces "${stale[@]}"
}

# --- Timing --------------------------------------------------------------------

# Usage: topo_now_us: prints the wall-clock time in microseconds since the
# epoch, the unit of every timing point.
topo_now_us() {
	if [[ -n ${EPOCHREALTIME-} ]]; then
		# EPOCHREALTIME has exactly six decimals, with the locale's
		# decimal separator.
		printf '%s\n' "${EPOCHREALTIME//[!0-9]/}"
	else
		date +%s%6N
	fi
}

# Usage: topo_mark POINT [TIME_US]
# Records timing point POINT (one of TOPO_TIMING_POINTS) in TOPO_MARKS, at
# TIME_US or now.
topo_mark() {
	local point=${1-} time_us=${2-}

	if [[ " ${TOPO_TIMING_POINTS[*]} " != *" $point "* ]]; then
		_topo_error topo_mark "unknown timing point '$point'; use one of ${TOPO_TIMING_POINTS[*]}"
		return
	fi
	if [[ -z $time_us ]]; then
		time_us=$(topo_now_us)
	elif [[ ! $time_us =~ ^[0-9]+$ ]]; then
		_topo_error topo_mark "invalid time '$time_us'; give microseconds since the epoch"
		return
	fi
	TOPO_MARKS[$point]=$time_us
}

# Usage: _topo_format_ms MICROSECONDS: prints the value in ms, 3 decimals.
_topo_format_ms() {
	local us=$1 sign=

	if ((us < 0)); then
		sign=-
		us=$((-us))
	fi
	printf '%s%d.%03d\n' "$sign" $((us / 1000)) $((us % 1000))
}

# Usage: topo_interval_ms FROM_POINT TO_POINT
# Prints the time from one recorded point to another in milliseconds.
topo_interval_ms() {
	local point

	for point in "${1-}" "${2-}"; do
		[[ -n ${TOPO_MARKS[$point]-} ]] && continue
		_topo_error topo_interval_ms "timing point '$point' not recorded; record it with topo_mark"
		return
	done
	_topo_format_ms $((TOPO_MARKS[$2] - TOPO_MARKS[$1]))
}

# Usage: topo_max_gap_ms FILE
# Prints the interruption of a probe stream: the largest gap in
# milliseconds between consecutive receive times in FILE, whose lines start
# with a receive time in microseconds (other fields are ignored). Lines are
# sorted first, so probes may be logged out of order.
topo_max_gap_ms() {
	local gap

	if ! gap=$(awk '$1 ~ /^[0-9]+$/ { print $1 }' "${1-}" | sort -n |
		awk 'NR > 1 && $1 - last > max { max = $1 - last }
			{ last = $1 }
			END { if (NR < 2) exit 1; print max + 0 }'); then
		_topo_error topo_max_gap_ms "'${1-}' needs at least two receive times in microseconds"
		return
	fi
	_topo_format_ms "$gap"
}
