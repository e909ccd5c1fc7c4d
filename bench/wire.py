"""Read a loopback capture of a soak run: requests never answered, and where the time went.

    tcpdump -i lo -s 100 -w soak.pcap 'tcp and not port 5432' &   # then run bench/soak.py
    python bench/wire.py soak.pcap PORT [--from S] [--to S]

PORT is the server's (soak.py prints it in its ``server:`` line). For every connection whose
last request got no response it prints when the request left, how long the connection had been
idle, and whether the server's FIN had arrived before it (then the client wrote on a connection
the server had already closed). Then the latency on the wire, split into the client's part (its
first to its last request packet: headers, then body) and the server's (its last request packet
to the first response packet), for requests that left between --from and --to seconds.
Needs no packages: a pcap reader for IPv4 over Ethernet (Linux's loopback) or Linux cooked
captures. (bench/JOURNAL.md#soak-dropped-connections)
"""

from __future__ import annotations

import argparse
import struct
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

METHODS = (b"GET ", b"POST", b"PATC", b"PUT ", b"DELE")
FIN, RST = 1, 4
Packet = tuple[float, bool, int, int, bytes]  # time, from the server, flags, length, payload


def packets(path: Path, port: int) -> Iterator[tuple[int, Packet]]:
    """(client port, packet) for each TCP packet to or from ``port``."""
    with path.open("rb") as capture:
        head = capture.read(24)
        magic = struct.unpack("<I", head[:4])[0]
        order = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
        scale = 1e9 if magic in (0xA1B23C4D, 0x4D3CB2A1) else 1e6
        link = struct.unpack(order + "I", head[20:24])[0]
        offset = {1: 14, 113: 16}.get(link, 4)
        while len(record := capture.read(16)) == 16:
            seconds, fraction, kept, _ = struct.unpack(order + "IIII", record)
            ip = capture.read(kept)[offset:]
            if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
                continue
            header = (ip[0] & 15) * 4
            total = struct.unpack(">H", ip[2:4])[0]
            tcp = ip[header:]
            source, target = struct.unpack(">HH", tcp[:4])
            if port not in (source, target):
                continue
            data = (tcp[12] >> 4) * 4
            packet = (seconds + fraction / scale, source == port, tcp[13], total - header - data)
            yield (target if source == port else source), (*packet, tcp[data : data + 16])


def unanswered(connections: dict[int, list[Packet]], start: float) -> None:
    """Print each connection's request that no response followed."""
    lines: list[tuple[float, str]] = []
    for client, stream in connections.items():
        for index, (when, server, _, _, payload) in enumerate(stream):
            if server or not payload.startswith(METHODS):
                continue
            after = stream[index + 1 :]
            if any(s and n and p.startswith(b"HTTP/") for _, s, _, n, p in after):
                continue
            answers = [t for t, s, _, n, p in stream[:index] if s and n and p.startswith(b"HTTP/")]
            fins = [t for t, s, f, _, _ in stream[:index] if s and f & FIN]
            ended = [("RST" if f & RST else "FIN") for _, s, f, _, _ in after if s and f & 5]
            idle = when - answers[-1] if answers else float("nan")
            fin = f"{(when - fins[0]) * 1000:.0f} ms before" if fins else "not before"
            method = payload[:5].decode(errors="replace")
            lines.append(
                (
                    when,
                    f"  {when - start:8.3f} port {client} {method!r} idle {idle:.3f} s,"
                    f" server FIN {fin}, then server {ended[0] if ended else 'nothing'}",
                )
            )
            break
    print(f"requests never answered: {len(lines)} (seconds from the first packet)")
    for _, line in sorted(lines):
        print(line)


def latency(connections: dict[int, list[Packet]], start: float, low: float, high: float) -> None:
    """Print the wire latency percentiles, whole and split into client and server parts."""
    whole: list[float] = []
    client: list[float] = []
    server: list[float] = []
    for stream in connections.values():
        first = last = None
        for when, from_server, _, length, payload in stream:
            if not from_server and length:
                first, last = first or when, when
            elif from_server and length and payload.startswith(b"HTTP/") and first and last:
                if low <= first - start < high:
                    whole.append(when - first)
                    client.append(last - first)
                    server.append(when - last)
                first = last = None
    for name, values in (
        ("first request byte -> response", whole),
        ("client: first -> last request byte", client),
        ("server: last request byte -> response", server),
    ):
        values.sort()
        if values:
            n = len(values)

            def pct(p: float, v: list[float] = values, n: int = n) -> float:
                return v[min(n - 1, int(p * n))] * 1000

            print(
                f"{name:<40} n={n} p50 {pct(0.5):.1f} p95 {pct(0.95):.1f} p99 {pct(0.99):.1f}"
                f" max {values[-1] * 1000:.1f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture", type=Path)
    parser.add_argument("port", type=int)
    parser.add_argument("--from", dest="low", type=float, default=0.0)
    parser.add_argument("--to", dest="high", type=float, default=float("inf"))
    args = parser.parse_args()
    connections: dict[int, list[Packet]] = defaultdict(list)
    for client, packet in packets(args.capture, args.port):
        connections[client].append(packet)
    if not connections:
        raise SystemExit(f"no TCP packet to or from port {args.port} in {args.capture}")
    start = min(stream[0][0] for stream in connections.values())
    unanswered(connections, start)
    latency(connections, start, args.low, args.high)


if __name__ == "__main__":
    main()
