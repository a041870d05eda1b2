#!/usr/bin/env python3
"""Hostile and awkward clients for HostileInputIT, one scenario per run:

  hostile_clients.py SCENARIO HOST PORT COUNT

Each prints one JSON line at the end: the client ports it used ("ports"), and what else the test
needs. Scenarios that hold connections open print {"holding": ...} and wait for a line on stdin
before they let go, so that the test can look at the agent meanwhile.
"""
import json
import os
import random
import resource
import selectors
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

scenario, host, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(20261201)


def request(path, extra=b""):
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: hostile\r\n" + extra + b"\r\n"


def connect(source=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if source:
        s.bind((source, 0))
    s.connect((host, port))
    return s


def read_response(s, timeout=10.0):
    """The status line's code and the whole response (Content-Length framing), or None if the server closed."""
    s.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(head.split(b" ")[1])


def drain_until_close(s, timeout=3.0):
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
    except OSError:
        pass


def hold(state):
    """Tells the test what is open, then waits for its go-ahead."""
    print(json.dumps({"holding": state}), flush=True)
    sys.stdin.readline()


def done(**result):
    print(json.dumps(result), flush=True)


def raise_open_files(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 1024
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))


# Openers of protocols that are not HTTP/1.x, and bytes that are nothing at all.
def tls_client_hello():
    """A real ClientHello, as OpenSSL writes it."""
    outgoing = ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(ssl.MemoryBIO(), outgoing, server_hostname="hostile.example")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


TLS_CLIENT_HELLO = tls_client_hello()
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000")
SSH = b"SSH-2.0-OpenSSH_9.6\r\n"
REDIS = b"*1\r\n$4\r\nPING\r\n"
POSTGRES_STARTUP = struct.pack("!ii", 8, 80877103)  # SSLRequest
OPENERS = [TLS_CLIENT_HELLO, HTTP2_PREFACE, SSH, REDIS, POSTGRES_STARTUP]


def binary():
    """Random bytes, and the openers of other protocols, each on a connection of its own."""
    ports = []
    for i in range(count):
        payload = OPENERS[i] if i < len(OPENERS) else os.urandom(rng.randint(1, 2048))
        s = connect()
        ports.append(s.getsockname()[1])
        try:
            s.sendall(payload)
            drain_until_close(s, 1.0)
        except OSError:
            pass
        s.close()
    done(ports=ports)


def long_line():
    """A 64 KiB request line: nginx refuses it (414); the exchange is reported all the same."""
    ports = []
    statuses = []
    for _ in range(count):
        s = connect()
        ports.append(s.getsockname()[1])
        s.sendall(request("/long/" + "a" * 65536))
        statuses.append(read_response(s))
        s.close()
    done(ports=ports, statuses=statuses)


def big_header():
    """A 60 KB header: nginx refuses it (400, "Request Header Or Cookie Too Large")."""
    ports = []
    statuses = []
    for _ in range(count):
        s = connect()
        ports.append(s.getsockname()[1])
        s.sendall(request("/big-header", b"X-Big: " + b"b" * 60000 + b"\r\n"))
        statuses.append(read_response(s))
        s.close()
    done(ports=ports, statuses=statuses)


def paced(chunks, pause):
    """One connection per thread, its request sent in the given pieces with pauses between them."""
    ports = []
    statuses = []
    lock = threading.Lock()

    def client(i):
        s = connect()
        with lock:
            ports.append(s.getsockname()[1])
        data = request(f"/paced/{i}")
        at = 0
        for size in chunks(len(data)):
            s.send(data[at:at + size])
            at += size
            time.sleep(pause())
        status = read_response(s)
        with lock:
            statuses.append(status)
        s.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done(ports=ports, statuses=statuses)


def one_byte_per_read():
    """Slowloris: one byte per segment, 20 ms apart (about 1 s per request)."""
    paced(lambda n: [1] * n, lambda: 0.02)


def split_head():
    """The head in pieces of 1 to 9 bytes, 0 to 5 ms apart."""
    def pieces(n):
        sizes = []
        while sum(sizes) < n:
            sizes.append(rng.randint(1, 9))
        return sizes
    paced(pieces, lambda: rng.random() * 0.005)


def concurrent():
    """COUNT connections open at once, a request answered on each, held until the test says."""
    raise_open_files(count)
    sockets = []
    for _ in range(count):
        sockets.append(connect())
    sel = selectors.DefaultSelector()
    for i, s in enumerate(sockets):
        s.sendall(request(f"/concurrent/{i}"))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, [b""])
    answered = 0
    deadline = time.time() + 120
    while answered < count and time.time() < deadline:
        for key, _ in sel.select(timeout=1):
            chunk = key.fileobj.recv(65536)
            key.data[0] += chunk
            if not chunk or b"\r\n\r\nok\n" in key.data[0]:
                sel.unregister(key.fileobj)
                answered += 1
    ports = [s.getsockname()[1] for s in sockets]
    hold({"open": count, "answered": answered})
    for s in sockets:
        s.close()
    done(ports=ports, answered=answered)


def idle_then_requests():
    """COUNT connections that say nothing, then one request on each of 200 of them."""
    raise_open_files(count)
    sockets = [connect() for _ in range(count)]
    hold({"idle": count})
    chosen = rng.sample(sockets, min(200, count))
    statuses = []
    for s in chosen:
        s.sendall(request("/after-idle"))
        statuses.append(read_response(s))
    ports = [s.getsockname()[1] for s in chosen]
    for s in sockets:
        s.close()
    done(ports=ports, statuses=statuses)


def iptables(action, source):
    for rule in (["-s", source, "-p", "tcp", "--dport", str(port)], ["-d", source, "-p", "tcp", "--sport", str(port)]):
        subprocess.run(["iptables", action, "INPUT", *rule, "-j", "DROP"], check=action == "-I")


def half_open():
    """Clients that vanish without a FIN reaching the server: half with a request answered and the
    connection kept alive, half in the middle of a head. Their segments are dropped (iptables), the
    clients close, and the server learns nothing until its own timeouts; then the network returns."""
    source = "127.0.0.3"
    sockets = [connect(source) for _ in range(count)]
    statuses = []
    for i, s in enumerate(sockets):
        if i % 2 == 0:
            s.sendall(request("/half-open"))
            statuses.append(read_response(s))
        else:
            s.sendall(b"GET /half-open-head HTTP/1.1\r\nHost: hostile\r\n")
    time.sleep(0.2)
    iptables("-I", source)
    try:
        ports = [s.getsockname()[1] for s in sockets]
        for s in sockets:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # a RST, dropped too
            s.close()
        hold({"vanished": count})
    finally:
        iptables("-D", source)
    done(ports=ports, statuses=statuses)


SCENARIOS = {f.__name__: f for f in [binary, long_line, big_header, one_byte_per_read, split_head, concurrent,
                                     idle_then_requests, half_open]}
SCENARIOS[scenario]()
