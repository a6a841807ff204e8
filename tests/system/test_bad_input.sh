#!/usr/bin/env bash
# Bad input at a node agent's UDP port 47830: garbage, truncated packets,
# replayed packets (captured from the wire inside the namespace), packets
# sealed with the wrong key, a flood of garbage, and authenticated control
# packets that hold no valid message. Each must be dropped and counted
# under the node's /v1/status "dropped" counters, must not move the tunnel
# to the attacker's address, and the tunnel must keep working.
#
# Node a (global) is the target and b (global) its tunnel peer. Host x on
# the Internet sends the bad packets. An embedded Python 3 tool captures
# packets with an AF_PACKET socket and seals packets with libsodium through
# ctypes, so the test needs no packages beyond python3 and libsodium.
set -uo pipefail
# shellcheck source=tests/system/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

readonly DOMAIN=a.example
readonly A_ADDR=203.0.113.50 B_ADDR=203.0.113.51 DC_IP=203.0.113.20
readonly NODE_PORT=47830
# Garbage datagrams of the flood: bounded, a burst of well under a second.
readonly FLOOD_COUNT=20000

# write_packet_tool FILE: writes the Python packet tool to FILE.
write_packet_tool() {
	cat >"$1" <<'PY'
"""Captures, builds and sends packets of the NTM wire format (ntm_codec.h).

capture IFACE TYPE SRC_IP OUT TIMEOUT_S
    Writes the UDP payload of the first received IPv4 datagram from SRC_IP
    to port 47830 whose packet type is TYPE (1 control, 2 data), as hex.
send HOST PORT
    Sends one datagram for each hex line of stdin ("-" is an empty one).
garbage COUNT
    Prints COUNT random datagrams whose first byte is not version 1.
truncate HEX LEN / replace_counter HEX DELTA
    Prints HEX cut to LEN bytes / a data packet with its counter + DELTA.
data_wrong_key HEX
    Prints a data packet with HEX's session index and a new counter,
    sealed with a random key.
data_random_index LEN
    Prints a data packet of LEN bytes to a random session index.
control CLAIMED_PUB RECEIVER_PUB [SENDER_KEY_FILE] [PLAINTEXT_HEX]
    Prints a control packet whose header names CLAIMED_PUB (base64, or
    "random") as the sender, sealed for RECEIVER_PUB with the keys of the
    private key in SENDER_KEY_FILE, or of a random key pair when omitted.
"""
import base64
import ctypes
import ctypes.util
import os
import random
import select
import socket
import struct
import sys
import time

NODE_PORT = 47830
CTL_HEADER = 68
DATA_HEADER = 16

_lib = None


def sodium():
    global _lib
    if _lib is None:
        _lib = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
        if _lib.sodium_init() < 0:
            sys.exit("libsodium failed to initialise")
    return _lib


def buf(data=b"", size=None):
    return ctypes.create_string_buffer(data, size if size is not None else len(data))


def keypair(private=None):
    pk, sk = buf(size=32), buf(private or os.urandom(32), 32)
    sodium().crypto_scalarmult_base(pk, sk)
    return pk.raw, sk.raw


def control_keys(pk, sk, peer_pk):
    """Directional keys as ntm_ctl_keys_derive: the smaller key is the client."""
    rx, tx = buf(size=32), buf(size=32)
    if pk < peer_pk:
        rc = sodium().crypto_kx_client_session_keys(rx, tx, buf(pk), buf(sk), buf(peer_pk))
    else:
        rc = sodium().crypto_kx_server_session_keys(rx, tx, buf(pk), buf(sk), buf(peer_pk))
    if rc != 0:
        sys.exit("crypto_kx failed on the peer's public key")
    return rx.raw, tx.raw


def seal(function, key, nonce, plain, ad):
    out = buf(size=len(plain) + 16)
    out_len = ctypes.c_ulonglong(0)
    getattr(sodium(), function)(out, ctypes.byref(out_len), buf(plain),
                                ctypes.c_ulonglong(len(plain)), buf(ad),
                                ctypes.c_ulonglong(len(ad)), None, buf(nonce), buf(key))
    return out.raw[:out_len.value]


def data_packet(index, counter, key, plain):
    header = struct.pack(">BBHIQ", 1, 2, 0, index, counter)
    nonce = b"\0" * 4 + struct.pack("<Q", counter)
    return header + seal("crypto_aead_chacha20poly1305_ietf_encrypt", key, nonce, plain, header)


def control_packet(claimed, receiver, key_file=None, plain=None):
    private = None
    if key_file:
        with open(key_file) as f:
            private = base64.b64decode(f.read().strip())
    pk, sk = keypair(private)
    _, tx = control_keys(pk, sk, receiver)
    sender = pk if claimed == "random" else base64.b64decode(claimed)
    # Counters start at wall-clock milliseconds << 22, like ntm_counter_start.
    counter = (int(time.time() * 1000) << 22) + random.randrange(1 << 20)
    header = struct.pack(">BBH", 1, 1, 0) + sender + struct.pack(">Q", counter) + os.urandom(24)
    plain = os.urandom(64) if plain is None else plain
    return header + seal("crypto_aead_xchacha20poly1305_ietf_encrypt", tx, header[44:68],
                         plain, header)


def capture(iface, ptype, src, out, timeout):
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    sock.bind((iface, 0x0800))
    print("capturing", flush=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([sock], [], [], 0.1)
        if not ready:
            continue
        packet, address = sock.recvfrom(70000)
        if address[2] == socket.PACKET_OUTGOING or len(packet) < 28 or packet[9] != 17:
            continue
        ihl = (packet[0] & 15) * 4
        if socket.inet_ntoa(packet[12:16]) != src:
            continue
        _, dport = struct.unpack(">HH", packet[ihl:ihl + 4])
        payload = packet[ihl + 8:]
        if dport == NODE_PORT and len(payload) > 2 and payload[1] == ptype:
            with open(out, "w") as f:
                f.write(payload.hex() + "\n")
            return
    sys.exit("no matching packet within %s s" % timeout)


def send(host, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for line in sys.stdin:
        line = line.strip()
        sock.sendto(b"" if line == "-" else bytes.fromhex(line), (host, int(port)))


def main(argv):
    command, args = argv[1], argv[2:]
    if command == "capture":
        capture(args[0], int(args[1]), args[2], args[3], float(args[4]))
    elif command == "send":
        send(args[0], args[1])
    elif command == "garbage":
        for _ in range(int(args[0])):
            data = bytearray(os.urandom(random.randint(1, 1400)))
            data[0] = random.choice([b for b in range(256) if b != 1])
            print(data.hex())
    elif command == "truncate":
        print(bytes.fromhex(args[0])[:int(args[1])].hex())
    elif command == "replace_counter":
        packet = bytearray(bytes.fromhex(args[0]))
        counter = struct.unpack(">Q", packet[8:16])[0] + int(args[1])
        packet[8:16] = struct.pack(">Q", counter)
        print(packet.hex())
    elif command == "data_wrong_key":
        packet = bytes.fromhex(args[0])
        index, counter = struct.unpack(">IQ", packet[4:16])
        print(data_packet(index, counter + 1000, os.urandom(32), os.urandom(84)).hex())
    elif command == "data_random_index":
        size = int(args[0])
        print(data_packet(random.getrandbits(32), 1, os.urandom(32),
                          os.urandom(size - DATA_HEADER - 16)).hex())
    elif command == "control":
        plain = bytes.fromhex(args[3]) if len(args) > 3 else None
        print(control_packet(args[0], base64.b64decode(args[1]),
                             args[2] if len(args) > 2 and args[2] else None, plain).hex())
    else:
        sys.exit("unknown command " + command)


main(sys.argv)
PY
}

TOOL=
# tool ARGS...: runs the packet tool outside the namespaces (no network).
tool() {
	python3 "$TOOL" "$@"
}

# send_to_a LINES...: sends each hex line from host x to node a's port.
send_to_a() {
	printf '%s\n' "$@" | topo_exec x python3 "$TOOL" send "$A_ADDR" "$NODE_PORT"
}

# total_dropped: prints the sum of node a's drop counters.
total_dropped() {
	sys_status a '[.dropped[]] | add'
}

# drops_reach REASON COUNT: node a's counter REASON is at least COUNT.
drops_reach() {
	(($(sys_dropped a "$1") >= $2))
}

# expect_drops NAME REASON COUNT HEX...: sends the packets from x to a and
# checks that counter REASON grew by exactly COUNT and no other counter
# changed. The counter is read until it reaches the value or 3 s passed.
expect_drops() {
	local name=$1 reason=$2 count=$3
	local before total_before after total_after
	shift 3

	before=$(sys_dropped a "$reason")
	total_before=$(total_dropped)
	send_to_a "$@"
	sys_wait_for 3 drops_reach "$reason" $((before + count))
	after=$(sys_dropped a "$reason")
	total_after=$(total_dropped)
	check "$name: counted as $reason" sys_equal $((before + count)) "$after"
	check "$name: no other counter moves" sys_equal $((total_before + count)) "$total_after"
}

# captures_ready: both capture processes have opened their sockets.
captures_ready() {
	grep -q '^capturing' "$WORK/capture-data.log" &&
		grep -q '^capturing' "$WORK/capture-control.log"
}

# tunnel_intact NAME: a's tunnel to b still points at b, and pings pass.
tunnel_intact() {
	check "$1: a still sends to b's address" \
		sys_equal "$B_ADDR:$NODE_PORT" "$(sys_tunnel a "b.$DOMAIN" endpoint)"
	check "$1: ping a -> b" sys_ping a "${VIP[b]}"
	check "$1: ping b -> a" sys_ping b "${VIP[a]}"
}

sys_init
TOOL=$WORK/ntm_packets.py
write_packet_tool "$TOOL"
topo_host dc
topo_internet_attach dc "$DC_IP/24" eth0
topo_host a
topo_internet_attach a "$A_ADDR/24" eth0
topo_host b
topo_internet_attach b "$B_ADDR/24" eth0
topo_host x
topo_internet_attach x 203.0.113.66/24 eth0

sys_dc dc "$DC_IP" "$DOMAIN" 198.51.100.0/24
declare -A VIP=()
for node in a b; do
	sys_node "$node" "$node.$DOMAIN"
	require "$node registers" sys_wait_registered "$node"
	VIP[$node]=$(sys_vip "$node")
done
require "ping b -> a builds the tunnel" sys_ping b "${VIP[a]}"
A_PUB=$(cat "$WORK/a.$DOMAIN.key.pub")
B_PUB=$(cat "$WORK/b.$DOMAIN.key.pub")
DC_PUB=$(cat "$WORK/dc.key.pub")
HANDOVERS=$(sys_tunnel a "b.$DOMAIN" handovers)

# Capture a data packet from b and a control packet from the DC, both as
# node a receives them. A ping to an unused VIP makes node a query the DC,
# which replies with an error.
topo_bg a "$WORK/capture-data.log" python3 "$TOOL" capture eth0 2 "$B_ADDR" "$WORK/data.hex" 10
DATA_CAPTURE_PID=$TOPO_BG_PID
topo_bg a "$WORK/capture-control.log" python3 "$TOOL" capture eth0 1 "$DC_IP" \
	"$WORK/control.hex" 10
CONTROL_CAPTURE_PID=$TOPO_BG_PID
require "capture sockets open" sys_wait_for 5 captures_ready
topo_exec b ping -n -c 2 -i 0.2 -W 1 "${VIP[a]}" >>"$WORK/ping.log" 2>&1
topo_exec a ping -n -c 1 -W 1 198.51.100.99 >>"$WORK/ping.log" 2>&1
require "data packet captured" sys_wait_pid "$DATA_CAPTURE_PID" 10
require "control packet from the DC captured" sys_wait_pid "$CONTROL_CAPTURE_PID" 10
DATA=$(cat "$WORK/data.hex" 2>/dev/null) || DATA=
CONTROL=$(cat "$WORK/control.hex" 2>/dev/null) || CONTROL=

name=garbage
mapfile -t GARBAGE < <(tool garbage 50)
expect_drops "$name" malformed 50 "${GARBAGE[@]}"
expect_drops "empty datagram" malformed 1 -
expect_drops "unknown packet type" malformed 2 01070000deadbeef 0103000000000000
tunnel_intact "$name"

name=truncated
expect_drops "3 bytes" malformed 1 010200
expect_drops "data header cut short" malformed 1 "$(tool truncate "$DATA" 12)"
expect_drops "control header cut short" malformed 1 "$(tool truncate "$CONTROL" 40)"
expect_drops "data packet without its tag" malformed 1 "$(tool truncate "$DATA" 30)"
expect_drops "DC control packet without its tag" malformed 1 "$(tool truncate "$CONTROL" 80)"
tunnel_intact "$name"

name=replayed
expect_drops "captured data packet sent again" replayed 1 "$DATA"
expect_drops "captured data packet sent 5 times" replayed 5 "$DATA" "$DATA" "$DATA" "$DATA" "$DATA"
expect_drops "captured DC packet sent again" replayed 1 "$CONTROL"
check "replays do not move the tunnel" \
	sys_equal "$HANDOVERS" "$(sys_tunnel a "b.$DOMAIN" handovers)"
tunnel_intact "$name"

name="wrongly keyed"
expect_drops "data sealed with a random key" auth_failed 1 "$(tool data_wrong_key "$DATA")"
expect_drops "captured data with a changed counter" auth_failed 1 \
	"$(tool replace_counter "$DATA" 100)"
expect_drops "data to an unknown session" unknown_index 1 "$(tool data_random_index 120)"
expect_drops "control from an unknown key" unknown_sender 1 "$(tool control random "$A_PUB")"
expect_drops "control naming the DC, wrong key" auth_failed 1 "$(tool control "$DC_PUB" "$A_PUB")"
expect_drops "control naming b, wrong key" auth_failed 1 "$(tool control "$B_PUB" "$A_PUB")"
expect_drops "control naming b, sealed for another node" auth_failed 1 \
	"$(tool control "$B_PUB" "$DC_PUB" "$WORK/b.$DOMAIN.key")"
check "wrongly keyed packets do not move the tunnel" \
	sys_equal "$HANDOVERS" "$(sys_tunnel a "b.$DOMAIN" handovers)"
tunnel_intact "$name"

name=oversized
expect_drops "65000-byte data packet" unknown_index 1 "$(tool data_random_index 65000)"
tunnel_intact "$name"

name=flood
LOG_LINES=$(wc -l <"$WORK/a.$DOMAIN.log")
BEFORE=$(sys_dropped a malformed)
tool garbage "$FLOOD_COUNT" | topo_exec x python3 "$TOOL" send "$A_ADDR" "$NODE_PORT"
sleep 0.5
FLOODED=$(($(sys_dropped a malformed) - BEFORE))
echo "# flood: $FLOODED of $FLOOD_COUNT datagrams counted as malformed"
check "$name: counted as malformed" sys_greater "$FLOODED" 0
DROP_LOG_LINES=$(tail -n +$((LOG_LINES + 1)) "$WORK/a.$DOMAIN.log" | grep -c 'dropped packet')
echo "# flood: $DROP_LOG_LINES drop log lines"
check "$name: drop log is rate-limited" sys_less "$DROP_LOG_LINES" 200
check "$name: node a still runs" kill -0 "${SYS_NODE_PID[a]}"
tunnel_intact "$name"

# Last, because it moves b's control counter far ahead at a: control
# packets sealed with b's real key whose plaintext is no Envelope.
name="authenticated garbage"
expect_drops "random plaintext from b" bad_message 1 \
	"$(tool control "$B_PUB" "$A_PUB" "$WORK/b.$DOMAIN.key")"
expect_drops "empty plaintext from b" bad_message 1 \
	"$(tool control "$B_PUB" "$A_PUB" "$WORK/b.$DOMAIN.key" '')"
tunnel_intact "$name"

echo "# dropped at a: $(sys_status a '.dropped | tojson')"
check "daemons stop cleanly on SIGTERM" sys_stop_daemons
check "no sanitizer reports in daemon logs" sys_no_sanitizer_reports
sys_summary
