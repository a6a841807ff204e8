#!/usr/bin/env python3
"""The media player application of the DLNA stage of scripts/bench.sh.

Every time is wall-clock time (CLOCK_REALTIME) in microseconds since the
epoch, as in probe.py, so it compares with times taken in other namespaces
and with the daemons' log lines.

Modes:
  msearch ST MX SEARCHES   send an SSDP M-SEARCH for ST to 239.255.255.250:1900
                           (UPnP Device Architecture 2.0, section 1.3.2) and
                           wait MX seconds and a margin for a 200 OK response;
                           repeat up to SEARCHES times. Print "sent US" for
                           each search and "response US LOCATION" for the first
                           200 OK with a LOCATION, then exit 0. Exit 1 when no
                           search gets a response.
  item-url FILE TITLE      print the res URL of the item with that dc:title in
                           a saved ContentDirectory Browse response; exit 1
                           when there is none
"""

import html
import re
import socket
import sys
import time

SSDP_GROUP = ("239.255.255.250", 1900)
# Time after the MX of a search that a response may still take to arrive:
# ntm-ssdpd responds to a waiting search until its MX runs out, and the
# response then crosses only the loopback path.
RESPONSE_MARGIN_S = 0.2


def now_us():
    return time.time_ns() // 1000


def msearch_datagram(st, mx):
    return (
        "M-SEARCH * HTTP/1.1\r\n"
        "HOST: 239.255.255.250:1900\r\n"
        'MAN: "ssdp:discover"\r\n'
        f"MX: {mx}\r\n"
        f"ST: {st}\r\n"
        "\r\n"
    ).encode("ascii")


def response_location(data):
    """Return the LOCATION of a 200 OK search response, or None."""
    text = data.decode("latin-1")
    if not text.startswith("HTTP/1.1 200"):
        return None
    for line in text.split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() == "location":
            return value.strip()
    return None


def wait_response(sock, deadline):
    """Return (receive time, LOCATION) of the first response before deadline."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            data = sock.recv(8192)
        except socket.timeout:
            return None
        received_us = now_us()
        location = response_location(data)
        if location:
            return received_us, location


def msearch(st, mx, searches):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
    sock.bind(("0.0.0.0", 0))
    datagram = msearch_datagram(st, mx)
    for _ in range(searches):
        sent_us = now_us()
        sock.sendto(datagram, SSDP_GROUP)
        print("sent", sent_us, flush=True)
        response = wait_response(sock, time.monotonic() + mx + RESPONSE_MARGIN_S)
        if response:
            print("response", response[0], response[1], flush=True)
            return 0
    print(
        f"dlna_client: no 200 OK response to {searches} M-SEARCHes for {st} within "
        f"MX {mx} s + {RESPONSE_MARGIN_S} s each",
        file=sys.stderr,
    )
    return 1


def item_url(path, title):
    """Print the res URL of the item titled title in a Browse response."""
    with open(path, encoding="utf-8", errors="replace") as f:
        body = f.read()
    # The DIDL-Lite document travels XML-escaped inside the SOAP Result.
    result = re.search(r"<Result>(.*)</Result>", body, re.S)
    didl = html.unescape(result.group(1)) if result else ""
    for item in re.findall(r"<item.*?</item>", didl, re.S):
        if not re.search(r"<dc:title>%s</dc:title>" % re.escape(title), item):
            continue
        res = re.search(r"<res[^>]*>([^<]+)</res>", item)
        if res:
            print(res.group(1))
            return 0
    print(f"dlna_client: no item titled '{title}' in {path}", file=sys.stderr)
    return 1


def main(argv):
    usage = "usage: dlna_client.py msearch ST MX SEARCHES | item-url FILE TITLE"
    try:
        mode, args = argv[1], argv[2:]
        if mode == "msearch" and len(args) == 3:
            return msearch(args[0], int(args[1]), int(args[2]))
        if mode == "item-url" and len(args) == 2:
            return item_url(args[0], args[1])
    except (IndexError, ValueError):
        pass
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
