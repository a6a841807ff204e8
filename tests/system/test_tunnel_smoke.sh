#!/usr/bin/env bash
# Two node agents and a DC on an emulated Internet: one node global, one
# behind NAT. Ping between VIPs in both directions.
set -uo pipefail
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

sys_init
topo_host dc
topo_internet_attach dc 203.0.113.1/24 eth0
topo_host a
topo_internet_attach a 203.0.113.11/24 eth0
topo_home_network home 203.0.113.10 192.0.2.0/26
topo_host b
topo_attach b home 192.0.2.2/26 eth0
topo_default_route b "$TOPO_GATEWAY"

sys_dc dc 203.0.113.1 home.example 198.51.100.0/24
sys_node a a.home.example
sys_node b b.home.example
check "node a registers" sys_wait_registered a
check "node b registers" sys_wait_registered b
VIP_A=$(sys_vip a)
VIP_B=$(sys_vip b)
check "ping a -> b over the tunnel" topo_exec a ping -c 3 -i 0.2 -W 2 "$VIP_B"
check "ping b -> a over the tunnel" topo_exec b ping -c 3 -i 0.2 -W 2 "$VIP_A"
sys_admin a 47881 GET /v1/tunnels | jq -c '.tunnels[] | {peer_fqdn,state,path,endpoint,setup_us}'
sys_summary
