#!/bin/bash
# The "keys" service of docker-compose.yml: runs once before the daemons.
# For each host of the demo (dc, rs, agent, player), it creates the key pair
# (ntm-keygen) and the admin token when they are missing. Then it writes that
# host's configuration files from the templates in docker/config/, with the
# DC's and the relay's public keys filled in. Existing keys and tokens are
# kept, and the configuration files are rewritten on every run, so an edit
# in docker/config/ takes effect at the next "docker-compose up".
#
# Each host's files go to its own volume, mounted at /out/HOST. The DC and
# the relay run as the image's user ntm (UID 4780), so their files are
# handed to it. The Agent's and the player's daemons run as root.
# NTM_DOCKER_CONFIG and NTM_DOCKER_OUT replace the two directories, so that
# tests/system/test_deploy.sh can run this script outside a container.
set -euo pipefail

readonly TEMPLATES=${NTM_DOCKER_CONFIG:-/opt/ntm-docker/config}
readonly OUT=${NTM_DOCKER_OUT:-/out}
readonly NTM_UID=4780

umask 077

# Usage: make_key FILE
# Creates the key pair FILE (mode 0600) and FILE.pub (0644) when FILE is
# missing.
make_key() {
	[[ -e $1 ]] && return 0
	ntm-keygen "$1" >/dev/null
	echo "keys: created $1 and $1.pub"
}

# Usage: make_token FILE
# Writes 32 random bytes in base64 to FILE (mode 0600) when FILE is missing.
make_token() {
	[[ -e $1 ]] && return 0
	head -c 32 /dev/urandom | base64 >"$1.tmp"
	mv -f -- "$1.tmp" "$1"
	echo "keys: created $1"
}

# Usage: install_file SOURCE DEST MODE OWNER
# Copies SOURCE to DEST through a temporary file in DEST's directory, so
# that a DEST owned by another user is replaced, not written into (this
# container has CAP_CHOWN but not CAP_DAC_OVERRIDE).
install_file() {
	local source=$1 dest=$2 mode=$3 owner=$4

	cp -- "$source" "$dest.tmp"
	chmod "$mode" "$dest.tmp"
	chown "$owner" "$dest.tmp"
	mv -f -- "$dest.tmp" "$dest"
}

# Usage: render TEMPLATE DEST OWNER
# Writes docker/config/TEMPLATE to DEST (mode 0644) with @DC_PUBLIC_KEY@ and
# @RS_PUBLIC_KEY@ replaced. Base64 has no "|", so it is safe as the sed
# delimiter.
render() {
	local template=$TEMPLATES/$1 dest=$2 owner=$3
	local rendered

	rendered=$(mktemp)
	sed -e "s|@DC_PUBLIC_KEY@|$DC_PUBLIC_KEY|g" -e "s|@RS_PUBLIC_KEY@|$RS_PUBLIC_KEY|g" \
		"$template" >"$rendered"
	install_file "$rendered" "$dest" 0644 "$owner"
	rm -f -- "$rendered"
}

# Usage: hand_over DIR FILE...
# Gives FILE... in DIR to the ntm user, keeping their modes.
hand_over() {
	local dir=$1 file
	shift

	for file in "$@"; do
		[[ $(stat -c %u "$dir/$file") == "$NTM_UID" ]] || chown "$NTM_UID:$NTM_UID" "$dir/$file"
	done
}

make_secrets() {
	make_key "$OUT/dc/dc.key"
	make_token "$OUT/dc/admin.token"
	hand_over "$OUT/dc" dc.key dc.key.pub admin.token

	make_key "$OUT/rs/rs.key"
	make_token "$OUT/rs/admin.token"
	hand_over "$OUT/rs" rs.key rs.key.pub admin.token

	local host
	for host in agent player; do
		make_key "$OUT/$host/node.key"
		make_token "$OUT/$host/admin.token"
	done
}

# The DC's database directory belongs to ntm. It is handed over only once,
# because this container cannot chmod a directory it no longer owns.
prepare_dc_state() {
	local dir=$OUT/dc-state

	[[ $(stat -c %u "$dir") == "$NTM_UID" ]] && return 0
	chmod 0750 "$dir"
	chown "$NTM_UID:$NTM_UID" "$dir"
}

# The enrol service finds the nodes to enrol in the DC's nodes/ directory,
# one FQDN.pub file each: the keys service plays the operator who carries
# each node's public key to the DC.
copy_node_keys() {
	mkdir -p "$OUT/dc/nodes"
	chmod 0755 "$OUT/dc/nodes"
	install_file "$OUT/agent/node.key.pub" "$OUT/dc/nodes/agent.home.example.pub" 0644 \
		"$NTM_UID:$NTM_UID"
	install_file "$OUT/player/node.key.pub" "$OUT/dc/nodes/player.home.example.pub" 0644 \
		"$NTM_UID:$NTM_UID"
}

render_configs() {
	local ntm=$NTM_UID:$NTM_UID

	render dcd.conf "$OUT/dc/dcd.conf" "$ntm"
	render rsd.conf "$OUT/rs/rsd.conf" "$ntm"
	render noded-agent.conf "$OUT/agent/noded.conf" 0:0
	render dad.conf "$OUT/agent/dad.conf" 0:0
	render ssdpd-home.conf "$OUT/agent/ssdpd.conf" 0:0
	render noded-player.conf "$OUT/player/noded.conf" 0:0
	render ssdpd-player.conf "$OUT/player/ssdpd.conf" 0:0
}

main() {
	make_secrets
	prepare_dc_state
	copy_node_keys

	DC_PUBLIC_KEY=$(head -n 1 "$OUT/dc/dc.key.pub")
	RS_PUBLIC_KEY=$(head -n 1 "$OUT/rs/rs.key.pub")
	render_configs
	echo "keys: DC public key $DC_PUBLIC_KEY, relay public key $RS_PUBLIC_KEY"
}

main "$@"
