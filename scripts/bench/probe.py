#!/usr/bin/env python3
"""UDP probes for scripts/bench.sh: one datagram for the tunnel set-up time,
and a steady stream for the interruption across a move.

Every time is wall-clock time (CLOCK_REALTIME) in microseconds since the
epoch, the unit of the timing points in tests/netns/README.md. All network
namespaces of one machine share that clock, so a time taken in one namespace
compares with a time taken in another.

Modes:
  once-recv PORT TIMEOUT_S          print "ready", then the receive time of
                                    the first datagram; exit 1 on time-out
  once-send ADDR PORT               send one datagram, print its send time
  stream-recv PORT SECONDS          print "ready", receive until the
                                    sender's end marker or for at most
                                    SECONDS, then print "RECV_US SEQ" per
                                    datagram
  stream-send ADDR PORT SECONDS MS  send a numbered datagram every MS
                                    milliseconds for SECONDS, then the end
                                    marker; print the count and the failed
                                    sends
"""

import socket
import sys
import time

# Sequence number of the datagrams that end a stream. Sent a few times,
# because any one of them may be lost.
END_MARKER = 2**64 - 1
END_MARKER_SENDS = 3


def now_us():
    return time.time_ns() // 1000


def bound_socket(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", port))
    return sock


def once_recv(port, timeout_s):
    sock = bound_socket(port)
    sock.settimeout(timeout_s)
    print("ready", flush=True)
    try:
        sock.recv(2048)
    except socket.timeout:
        print(f"probe: no datagram on port {port} within {timeout_s} s", file=sys.stderr)
        return 1
    print(now_us(), flush=True)
    return 0


def once_send(addr, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent_us = now_us()
    sock.sendto(b"ntm-bench trigger", (addr, port))
    print(sent_us, flush=True)
    return 0


def stream_recv(port, seconds):
    sock = bound_socket(port)
    received = []
    deadline = time.monotonic() + seconds
    print("ready", flush=True)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            data = sock.recv(64)
        except socket.timeout:
            break
        # The time is taken before parsing, and the lines are written only
        # at the end, so output never delays a receive.
        recv_us = now_us()
        seq = int.from_bytes(data[:8], "big")
        if seq == END_MARKER:
            break
        received.append((recv_us, seq))
    for recv_us, seq in received:
        print(recv_us, seq)
    return 0


def stream_send(addr, port, seconds, interval_ms):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    interval = interval_ms / 1000.0
    start = time.monotonic()
    next_send = start
    sent = 0
    failed = 0
    while next_send - start < seconds:
        delay = next_send - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            sock.sendto(sent.to_bytes(8, "big"), (addr, port))
        except OSError:
            failed += 1
        sent += 1
        next_send += interval
        # After a stall (the scheduler, a busy core) the schedule restarts
        # from now instead of sending the missed probes in one burst.
        late = time.monotonic() - next_send
        if late > interval:
            next_send += late
    for _ in range(END_MARKER_SENDS):
        time.sleep(interval)
        try:
            sock.sendto(END_MARKER.to_bytes(8, "big"), (addr, port))
        except OSError:
            pass
    print(sent, failed)
    return 0


def main(argv):
    usage = (
        "usage: probe.py once-recv PORT TIMEOUT_S | once-send ADDR PORT | "
        "stream-recv PORT SECONDS | stream-send ADDR PORT SECONDS MS"
    )
    try:
        mode, args = argv[1], argv[2:]
        if mode == "once-recv" and len(args) == 2:
            return once_recv(int(args[0]), float(args[1]))
        if mode == "once-send" and len(args) == 2:
            return once_send(args[0], int(args[1]))
        if mode == "stream-recv" and len(args) == 2:
            return stream_recv(int(args[0]), float(args[1]))
        if mode == "stream-send" and len(args) == 4:
            return stream_send(args[0], int(args[1]), float(args[2]), float(args[3]))
    except (IndexError, ValueError):
        pass
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
