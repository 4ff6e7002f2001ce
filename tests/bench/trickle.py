#!/usr/bin/env python3
"""Slow-header clients for `make bench` (issue 14 item 4), standard library only.

Opens --headers connections that each send a request line and then one header line every
--interval seconds, never finishing their headers, and --bodies connections that send complete
headers (an authenticated POST announcing a 100,000-byte body) and then --body-rate body bytes
per second, all from one source address (--source). Every connection the server closes is
recorded with its lifetime (connect to the close seen here) and, until SIGUSR1, replaced after
--reopen-delay seconds, so the server meets the full load for as long as the probes run.

On SIGUSR1 (or after --max-seconds): no more reopening; waits until every open connection has
been closed by the server or is older than --deadline + --margin seconds (+ 1 s), closes what is
left itself and prints key=value lines on stdout (see report()). --ready FILE is written once
the first connections are all open. Exit status 0 unless it could not run (the verdicts are
scripts/bench.sh's).
"""
import argparse
import errno
import os
import selectors
import signal
import socket
import sys
import time

BODY_LENGTH = 100000


class Conn:
    __slots__ = ("kind", "sock", "opened", "next_send", "sent_lines", "answer", "slot")

    def __init__(self, kind, sock, opened, slot):
        self.kind = kind
        self.sock = sock
        self.opened = opened
        self.next_send = opened
        self.sent_lines = 0
        self.answer = b""
        self.slot = slot


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--source", default="127.0.0.2", help="the tricklers' one source address")
    p.add_argument("--headers", type=int, default=126, help="connections trickling header lines")
    p.add_argument("--bodies", type=int, default=2, help="connections trickling a body")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between header lines")
    p.add_argument("--body-rate", type=int, default=10, help="body bytes per second")
    p.add_argument("--body-path", default="/v1/collections/c/records")
    p.add_argument("--auth-file", help="file holding the bearer token of the body tricklers")
    p.add_argument("--deadline", type=float, default=10.0, help="the server's header deadline, s")
    p.add_argument("--margin", type=float, default=3.0, help="allowed beyond the deadline, s")
    p.add_argument("--reopen-delay", type=float, default=0.2)
    p.add_argument("--ready", help="file written once the first connections are open")
    p.add_argument("--max-seconds", type=float, default=300.0)
    return p.parse_args()


def main():
    a = parse_args()
    token = ""
    if a.auth_file:
        with open(a.auth_file) as f:
            token = f.read().strip()
    host_hdr = "%s:%d" % (a.host, a.port)
    header_start = ("GET /healthz HTTP/1.1\r\nHost: %s\r\nUser-Agent: custos-bench-trickle\r\n"
                    % host_hdr).encode()
    body_start = ("POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: custos-bench-trickle\r\n"
                  "Content-Type: application/json\r\n%sContent-Length: %d\r\n\r\n"
                  % (a.body_path, host_hdr,
                     ("Authorization: Bearer %s\r\n" % token) if token else "", BODY_LENGTH)).encode()
    body_piece = b"x" * max(1, a.body_rate)

    stop = {"flag": False}

    def on_usr1(_sig, _frm):
        stop["flag"] = True

    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGTERM, on_usr1)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    sel = selectors.DefaultSelector()
    t_start = time.monotonic()
    stats = {"opened": 0, "opened_headers": 0, "opened_bodies": 0, "connect_failed": 0,
             "cut": 0, "early": 0, "late": 0, "answered": 0}
    lifetimes = []       # closes by the server at or after the deadline - 1 s
    early_lifetimes = []  # closes well before the deadline (refused at the per-address limit...)
    answers = {}
    bound = a.deadline + a.margin
    slots = [("headers", i) for i in range(a.headers)] + [("body", i) for i in range(a.bodies)]
    reopen_at = {}  # slot index -> monotonic time to reopen
    live = {}       # slot index -> Conn

    def open_slot(idx):
        kind = slots[idx][0]
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((a.source, 0))
            s.settimeout(3.0)
            s.connect((a.host, a.port))
            s.setblocking(False)
            s.send(header_start if kind == "headers" else body_start)
        except OSError:
            s.close()
            stats["connect_failed"] += 1
            reopen_at[idx] = time.monotonic() + 1.0
            return
        now = time.monotonic()
        c = Conn(kind, s, now, idx)
        c.next_send = now + (a.interval if kind == "headers" else 1.0)
        live[idx] = c
        sel.register(s, selectors.EVENT_READ, c)
        stats["opened"] += 1
        stats["opened_" + ("headers" if kind == "headers" else "bodies")] += 1

    def closed_by_server(c, now):
        sel.unregister(c.sock)
        c.sock.close()
        del live[c.slot]
        life = now - c.opened
        if c.answer:
            stats["answered"] += 1
            line = c.answer.split(b"\r\n", 1)[0].decode("latin-1")[:40]
            answers[line] = answers.get(line, 0) + 1
        if life < a.deadline - 1.0:
            stats["early"] += 1
            early_lifetimes.append(life)
            delay = 1.0  # refused (per-address limit): do not spin
        else:
            stats["cut"] += 1
            lifetimes.append(life)
            if life > bound:
                stats["late"] += 1
            delay = a.reopen_delay
        if not stop["flag"]:
            reopen_at[c.slot] = now + delay

    for idx in range(len(slots)):
        open_slot(idx)
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("%d\n" % len(live))

    drain_until = None
    while True:
        now = time.monotonic()
        if not stop["flag"] and now - t_start > a.max_seconds:
            stop["flag"] = True
        if stop["flag"]:
            reopen_at.clear()
            if drain_until is None:
                newest = max((c.opened for c in live.values()), default=now)
                drain_until = max(now, newest + bound + 1.0)
            if not live or now >= drain_until:
                break
        for idx, when in list(reopen_at.items()):
            if when <= now:
                del reopen_at[idx]
                open_slot(idx)
        # trickle
        for c in list(live.values()):
            if c.next_send > now:
                continue
            if c.kind == "headers":
                c.sent_lines += 1
                data = ("X-Trickle-%d: still coming\r\n" % c.sent_lines).encode()
                c.next_send += a.interval
            else:
                data = body_piece
                c.next_send += 1.0
            try:
                c.sock.send(data)
            except BlockingIOError:
                pass
            except OSError:
                closed_by_server(c, now)
        # wait for closes (or the next send), at most 50 ms so a close is timed closely
        nxt = min([c.next_send for c in live.values()] + list(reopen_at.values()) + [now + 0.05])
        for key, _ in sel.select(max(0.0, min(0.05, nxt - now))):
            c = key.data
            try:
                got = c.sock.recv(4096)
            except BlockingIOError:
                continue
            except OSError as e:
                if e.errno not in (errno.ECONNRESET, errno.EPIPE, errno.ENOTCONN):
                    raise
                got = b""
            if got:
                if len(c.answer) < 256:
                    c.answer += got
                continue
            if live.get(c.slot) is c:
                closed_by_server(c, time.monotonic())

    still_open = len(live)
    for c in list(live.values()):
        sel.unregister(c.sock)
        c.sock.close()
    lifetimes.sort()

    def pct(v, q):
        return v[min(len(v) - 1, int(len(v) * q))] if v else float("nan")

    out = dict(stats)
    out.update({
        "still_open": still_open,
        "bound": "%.1f" % bound,
        "life_min": "%.2f" % (lifetimes[0] if lifetimes else float("nan")),
        "life_p50": "%.2f" % pct(lifetimes, 0.5),
        "life_max": "%.2f" % (lifetimes[-1] if lifetimes else float("nan")),
        "early_max": "%.2f" % (max(early_lifetimes) if early_lifetimes else 0.0),
        "seconds": "%.1f" % (time.monotonic() - t_start),
        "answers": ";".join("%s x%d" % (k, v) for k, v in sorted(answers.items())) or "none",
    })
    for k, v in out.items():
        print("%s=%s" % (k, v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
