# shellcheck shell=bash
# The remote-DLNA topology the DLNA system tests share, with real daemons
# and a real media server (source tests/system/lib.sh first):
#
#   Internet 203.0.113.0/24: dc .1
#   home LAN 192.0.2.0/26 behind NAT 203.0.113.10:
#       agent 192.0.2.2 (ntm-noded, ntm-ssdpd home, ntm-dad), server 192.0.2.3 (minidlna)
#   foreign LAN 192.0.2.64/26 behind NAT 203.0.113.20:
#       player 192.0.2.66 (ntm-noded, ntm-ssdpd player; gssdp-discover, curl)
#
# dlna_start builds it, starts every daemon, and returns once gssdp-discover
# on the player found minidlna on a VIP. It sets DOMAIN, MS, CDS, HOME_GW,
# AWAY_GW, LOCATION and VIP. MINIDLNA_NOTIFY_INTERVAL sets minidlna's
# announcement interval in seconds (default 30).

# The functions defined inside run through check and sys_wait_for.
# shellcheck disable=SC2317
dlna_start() {
	for tool in minidlnad gssdp-discover ffmpeg curl; do
		command -v "$tool" >/dev/null || { echo "test_dlna: $tool not found" >&2; exit 1; }
	done

	sys_init
	DOMAIN=home.example
	MS=urn:schemas-upnp-org:device:MediaServer:1
	# shellcheck disable=SC2034 # used by the tests that call dlna_start
	CDS=urn:schemas-upnp-org:service:ContentDirectory:1

	topo_host dc
	topo_internet_attach dc 203.0.113.1/24 eth0
	topo_home_network home 203.0.113.10 192.0.2.0/26
	HOME_GW=$TOPO_GATEWAY
	topo_host agent
	topo_attach agent home 192.0.2.2/26 eth0
	topo_default_route agent "$HOME_GW"
	topo_host server
	topo_attach server home 192.0.2.3/26 eth0
	topo_default_route server "$HOME_GW"
	topo_home_network away 203.0.113.20 192.0.2.64/26
	topo_host player
	topo_attach player away 192.0.2.66/26 eth0
	AWAY_GW=$TOPO_GATEWAY
	topo_default_route player "$AWAY_GW"

	# Media for minidlna: a 2 s tone, a short video, a picture.
	mkdir -p "$WORK/media/Music" "$WORK/media/Video" "$WORK/minidlna"
	ffmpeg -loglevel error -f lavfi -i "sine=frequency=440:duration=2" "$WORK/media/Music/tone.mp3"
	ffmpeg -loglevel error -f lavfi -i "testsrc=size=160x120:rate=10:duration=2" \
		-pix_fmt yuv420p "$WORK/media/Video/clip.mp4"
	cat >"$WORK/minidlna.conf" <<-CONF
	port=8200
	network_interface=eth0
	media_dir=$WORK/media
	db_dir=$WORK/minidlna
	log_dir=$WORK/minidlna
	friendly_name=home media
	inotify=no
	notify_interval=${MINIDLNA_NOTIFY_INTERVAL:-30}
	CONF
	topo_bg server "$WORK/minidlna.log" minidlnad -f "$WORK/minidlna.conf" \
		-P "$WORK/minidlna.pid" -d

	sys_dc dc 203.0.113.1 "$DOMAIN" 198.51.100.0/24 || exit 1
	sys_node agent "agent.$DOMAIN" || exit 1
	sys_node player "player.$DOMAIN" || exit 1
	check "agent registers" sys_wait_registered agent
	check "player registers" sys_wait_registered player

	cat >"$WORK/ssdpd-home.conf" <<-CONF
	[ssdpd]
	mode = home
	lan_interface = eth0
	lan_prefix = 192.0.2.0/26
	ipc = ipc://$WORK/ssdpd.ipc
	ignore_prefix = 198.51.100.0/24
	log_level = debug
	[admin]
	listen = 127.0.0.1:47884
	token_file = $WORK/admin.token
	CONF
	cat >"$WORK/dad.conf" <<-CONF
	[dad]
	lan_interface = eth0
	lan_address = 192.0.2.2
	tun_interface = ntm0
	vip_count = 4
	state_file = $WORK/dad-servers.json
	allow = player.$DOMAIN
	noded_ipc = ipc://$WORK/agent.$DOMAIN.ipc
	ssdpd_ipc = ipc://$WORK/ssdpd.ipc
	log_level = debug
	[admin]
	listen = 127.0.0.1:47883
	token_file = $WORK/admin.token
	CONF
	cat >"$WORK/ssdpd-player.conf" <<-CONF
	[ssdpd]
	mode = player
	agent_fqdn = agent.$DOMAIN
	noded_ipc = ipc://$WORK/player.$DOMAIN.ipc
	log_level = debug
	[admin]
	listen = 127.0.0.1:47884
	token_file = $WORK/admin.token
	CONF
	topo_bg agent "$WORK/ssdpd-home.log" "$BUILD/ssdp-proxy/ntm-ssdpd" -f -c "$WORK/ssdpd-home.conf"
	topo_bg agent "$WORK/dad.log" "$BUILD/dad/ntm-dad" -f -c "$WORK/dad.conf"
	topo_bg player "$WORK/ssdpd-player.log" "$BUILD/ssdp-proxy/ntm-ssdpd" -f \
		-c "$WORK/ssdpd-player.conf"
	check "ntm-dad is up" sys_wait_http agent 47883

	pool_granted() {
		grep -q "VIP pool of" "$WORK/dad.log"
	}
	check "the Agent gets its VIP pool" sys_wait_for 10 pool_granted

	# Discovery: the player application's own M-SEARCH, through the tunnel.
	discover() {
		topo_exec player gssdp-discover -i eth0 -t "$MS" -n 4 >"$WORK/discover.txt" 2>&1
		grep -q 'http://198\.51\.100\.[0-9]*:8200/' "$WORK/discover.txt"
	}
	check "gssdp-discover finds the server on a VIP" sys_wait_for 30 discover
	LOCATION=$(grep -o 'http://198\.51\.100\.[0-9]*:8200/[^ ]*' "$WORK/discover.txt" | head -n 1)
	VIP=${LOCATION#http://}
	VIP=${VIP%%:*}
	echo "# discovered: $LOCATION"
}
