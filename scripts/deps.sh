# shellcheck shell=bash
# Build and test dependencies of the suite on Debian 12, and the build step
# that scripts/test.sh and scripts/demo.sh share. Source this file, then call
# ntm_install_deps (as root when something is missing) and ntm_build.

# Debian packages the suite needs: the toolchain (clang and libclang-rt-14-dev
# for the libFuzzer targets), the libraries it links, cmocka for the unit
# tests, and the tools the namespace tests, the demo and the DNS test (dig)
# run.
NTM_DEPS=(
	build-essential cmake pkg-config clang libclang-rt-14-dev
	libprotobuf-c-dev protobuf-c-compiler libzmq3-dev libczmq-dev
	libmicrohttpd-dev libsqlite3-dev libsodium-dev libjansson-dev
	libinih-dev libmnl-dev libcmocka-dev
	curl jq python3 iproute2 iptables nftables sqlite3 procps socat iputils-ping
	bind9-dnsutils libnftables-dev libhttp-parser-dev
	minidlna gerbera gssdp-tools gupnp-tools ffmpeg tcpdump vlc-bin vlc-plugin-base
	# ntmctl links libcurl. The admin API tests run promtool from Debian's
	# prometheus package on each daemon's /metrics; prometheus is there only
	# for promtool, installed without recommends like everything here, and
	# the policy-rc.d below keeps its server from starting. openssl makes the
	# HTTPS test's certificate; python3-yaml reads admin-api/openapi.yaml.
	libcurl4-openssl-dev prometheus openssl python3-yaml
	# scripts/bench.sh: iperf3 throughput, and wireguard-go with wg as the
	# userspace tunnel to compare with
	iperf3 wireguard-go wireguard-tools
	# tests/system/test_deploy.sh: docker-compose 1.29 validates
	# docker-compose.yml, systemd-analyze checks the unit files
	docker-compose systemd
)

# Top of the source tree, found from this file's location so callers may run
# from any directory.
NTM_REPO_ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)

# Installs the packages of NTM_DEPS that are not installed yet. Runs
# apt-get update once, and only when something is missing, so a machine that
# has everything needs no network and spends well under a second here.
ntm_install_deps() {
	local pkg status
	local -a missing=()

	for pkg in "${NTM_DEPS[@]}"; do
		# shellcheck disable=SC2016 # ${Status} is a dpkg-query field, not a shell variable
		status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) || status=
		# "install ok installed", or "hold ok installed" for a held package.
		[[ $status == *" ok installed" ]] || missing+=("$pkg")
	done
	if ((${#missing[@]} == 0)); then
		return 0
	fi

	echo "deps: installing ${missing[*]}" >&2
	apt-get update || return
	# minidlna and gerbera ship services that would start on the host's own
	# interfaces and announce themselves there; a policy-rc.d that exits 101
	# keeps every package service from starting during the install.
	local policy=/usr/sbin/policy-rc.d added_policy=
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && added_policy=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		"${missing[@]}"
	local status=$?
	[[ -n $added_policy ]] && rm -f "$policy"
	return "$status"
}

# Usage: ntm_build DIR [CMAKE_ARGS...]
# Configures the source tree into DIR with the given cmake arguments and
# builds it with two jobs. A relative DIR is taken from the repository root.
# Returns non-zero when configuring or building failed.
ntm_build() {
	local dir=${1:?usage: ntm_build DIR [CMAKE_ARGS...]}
	shift

	[[ $dir == /* ]] || dir=$NTM_REPO_ROOT/$dir
	cmake -S "$NTM_REPO_ROOT" -B "$dir" "$@" || return
	cmake --build "$dir" -j2 || return
}
