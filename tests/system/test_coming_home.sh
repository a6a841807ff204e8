#!/usr/bin/env bash
# Coming home: a player node that discovered a home server through the DLNA
# Agent moves into the home LAN. The player application must then see the
# server once, at its real address: the player's ntm-ssdpd withdraws the VIP
# copy when it hears the server announce itself on the LAN.
set -uo pipefail
# shellcheck source=tests/system/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/system/dlna_lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/dlna_lib.sh"

# minidlna announces itself every 5 s, so the player hears it soon after
# it comes home.
MINIDLNA_NOTIFY_INTERVAL=5
dlna_start

# Coming home: the player moves into the home LAN. It now hears minidlna's
# own announcements, so ntm-ssdpd withdraws the VIP copy and the player
# application sees the server once, at its real address.
topo_move player eth0 home 192.0.2.9/26 "$HOME_GW"
withdrawn() {
	grep -q "heard on this host's LAN; its VIP copy is withdrawn" "$WORK/ssdpd-player.log"
}
check "the player hears minidlna directly and withdraws the VIP copy" sys_wait_for 20 withdrawn
# topo_move attached a new interface for the home LAN: search on it.
HOME_IF=$(topo_exec player ip -o -4 addr show | awk '$4 == "192.0.2.9/26" { print $2 }')
discover_home() {
	topo_exec player gssdp-discover -i "$HOME_IF" -t "$MS" -n 3 >"$WORK/home.txt" 2>&1
	grep -q 'http://192\.0\.2\.3:8200/' "$WORK/home.txt"
}
check "at home the application finds the server at its real address" sys_wait_for 20 discover_home
check "at home the application no longer sees the VIP copy" \
	bash -c "! grep -q 'http://198\.51\.100\.' '$WORK/home.txt'"
check "daemons stop cleanly on SIGTERM" sys_stop_daemons
check "no sanitizer reports in daemon logs" sys_no_sanitizer_reports
sys_summary
