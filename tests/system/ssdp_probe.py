#!/usr/bin/env python3
"""SSDP probes for the ntm-ssdpd system tests (standard library only).

  ssdp_probe.py search --bind IP --st ST [--wait S] [--if-addr IP]
      Sends one M-SEARCH to 239.255.255.250:1900 from IP (ephemeral port),
      multicast out of the interface of --if-addr (default: IP), and prints
      "answer FROM_IP:FROM_PORT LOCATION" for each 200 OK received within S
      seconds.
  ssdp_probe.py notify --bind IP --nts alive|byebye --usn USN --nt NT
                       [--location URL]
      Sends one NOTIFY from IP:1900.
  ssdp_probe.py hold-port [--reuse] --seconds S
      Binds UDP 0.0.0.0:1900, with SO_REUSEADDR only when --reuse is given,
      prints "holding" and keeps the port for S seconds.
"""
import argparse
import socket
import sys
import time

GROUP = ("239.255.255.250", 1900)


def multicast_socket(bind_ip, port, if_addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((bind_ip, port))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(if_addr))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
    return s


def header(text, name):
    for line in text.split("\r\n")[1:]:
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == name.lower():
            return value.strip()
    return ""


def search(args):
    s = multicast_socket(args.bind, 0, args.if_addr or args.bind)
    message = ("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
               'MAN: "ssdp:discover"\r\nMX: 1\r\nST: %s\r\n'
               "USER-AGENT: test/1 UPnP/1.0 ssdp_probe/1\r\n\r\n" % args.st)
    s.sendto(message.encode(), GROUP)
    deadline = time.monotonic() + args.wait
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return 0
        s.settimeout(left)
        try:
            data, (ip, port) = s.recvfrom(9000)
        except socket.timeout:
            return 0
        text = data.decode("utf-8", "replace")
        if text.startswith("HTTP/1.1 200"):
            print("answer %s:%d %s" % (ip, port, header(text, "LOCATION")), flush=True)


def notify(args):
    s = multicast_socket(args.bind, 1900, args.bind)
    lines = ["NOTIFY * HTTP/1.1", "HOST: 239.255.255.250:1900",
             "NT: " + args.nt, "NTS: ssdp:" + args.nts, "USN: " + args.usn]
    if args.nts == "alive":
        lines += ["CACHE-CONTROL: max-age=1800", "LOCATION: " + args.location,
                  "SERVER: test/1 UPnP/1.0 ssdp_probe/1"]
    s.sendto(("\r\n".join(lines) + "\r\n\r\n").encode(), GROUP)
    return 0


def hold_port(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if args.reuse:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 1900))
    print("holding", flush=True)
    time.sleep(args.seconds)
    return 0


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("search")
    p.add_argument("--bind", required=True)
    p.add_argument("--if-addr")
    p.add_argument("--st", required=True)
    p.add_argument("--wait", type=float, default=2.0)
    p = sub.add_parser("notify")
    p.add_argument("--bind", required=True)
    p.add_argument("--nts", choices=["alive", "byebye"], required=True)
    p.add_argument("--usn", required=True)
    p.add_argument("--nt", required=True)
    p.add_argument("--location", default="")
    p = sub.add_parser("hold-port")
    p.add_argument("--reuse", action="store_true")
    p.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args()
    return {"search": search, "notify": notify, "hold-port": hold_port}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
