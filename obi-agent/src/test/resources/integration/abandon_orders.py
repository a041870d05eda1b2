"""Clients that give up, or not, in every order of events, each provoked on purpose.

Usage: python3 abandon_orders.py NGINX_PORT JDK_PORT PY_PORT ROUNDS [tls]
With "tls", NGINX_PORT is nginx's HTTPS port and every request to it goes over TLS (no certificate
check: the test's own); the backends are reached in clear as before.
Prints one JSON line per request sent: {"scenario", "id", "target" (lb, lb-tls, jdk, py), "port"} where "port" is the
client's local port (nginx's $remote_port, the agent's peer_port) and "id" the request's id= query
parameter. Every request target carries a unique id, so nginx's access log, the backends' own logs and
the agent's request log (run with obi.routes.keep-query=true) can be joined line by line.
"""
import json
import socket
import ssl
import struct
import sys
import time

HOST = "127.0.0.1"
NGINX, JDK, PY = (int(p) for p in sys.argv[1:4])
ROUNDS = int(sys.argv[4])
TLS = len(sys.argv) > 5 and sys.argv[5] == "tls"
TARGETS = {"lb": NGINX, "jdk": JDK, "py": PY}
TLS_CONTEXT = ssl.create_default_context()
TLS_CONTEXT.check_hostname = False
TLS_CONTEXT.verify_mode = ssl.CERT_NONE
counter = 0


def new_id(scenario):
    global counter
    counter += 1
    return f"{'tls-' if TLS else ''}{scenario}-{counter}"


def connect(target, cork=False):
    s = socket.create_connection((HOST, TARGETS[target]))
    s.settimeout(10)
    if cork:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    if TLS and target == "lb":
        s = TLS_CONTEXT.wrap_socket(s)
    return s


def report(scenario, request_id, target, s):
    shown = "lb-tls" if TLS and target == "lb" else target
    print(json.dumps({"scenario": scenario, "id": request_id, "target": shown, "port": s.getsockname()[1]}),
          flush=True)


def get(path, request_id):
    sep = "&" if "?" in path else "?"
    return f"GET {path}{sep}id={request_id} HTTP/1.1\r\nHost: lab\r\n\r\n".encode()


def read_response(responses):
    """One response with a Content-Length body (what nginx and the backends send here), from
    responses = socket.makefile("rb"), which keeps what arrived of the next ones."""
    length = 0
    status = responses.readline()
    for line in iter(responses.readline, b"\r\n"):
        if not line:
            return status
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    responses.read(length)
    return status


def read_to_end(s):
    try:
        while s.recv(65536):
            pass
    except OSError:
        pass


def reset(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def one_request(scenario, target, path, after_send, wait_s=0.1):
    """Sends one GET on a new connection; after wait_s, after_send(socket) gives up (or not)."""
    request_id = new_id(scenario)
    s = connect(target)
    report(scenario, request_id, target, s)
    s.sendall(get(path, request_id))
    time.sleep(wait_s)
    after_send(s)


def fin(s):
    s.close()


def half_close_and_read(s):
    s.shutdown(socket.SHUT_WR)
    read_to_end(s)
    s.close()


def answered():
    one_request("answered", "lb", "/jdk/fast", lambda s: (read_response(s.makefile("rb")), s.close()), 0)


def fin_then_answered(backend):
    # nginx is told to ignore the client's abort: it writes the backend's answer into the closed socket
    one_request(f"fin_then_answered_{backend}", "lb", f"/keep/{backend}/slow?ms=300", fin)


def fin_lb_gives_up(backend):
    # nginx gives up (499) and closes its upstream connection; the backend answers 200 ms later anyway
    one_request(f"fin_lb_gives_up_{backend}", "lb", f"/{backend}/slow?ms=300", fin)


def half_close_answered():
    one_request("half_close_answered", "lb", "/keep/py/slow?ms=200", half_close_and_read, 0.05)


def half_close_unanswered():
    one_request("half_close_unanswered", "lb", "/py/slow?ms=1000", half_close_and_read, 0.05)


def fin_with_request():
    """The FIN leaves in the request's own segment (TCP_CORK): it is there before nginx reads a byte."""
    request_id = new_id("fin_with_request")
    s = connect("lb", cork=not TLS)
    report("fin_with_request", request_id, "lb", s)
    if TLS:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)  # after the handshake: the request's record and the FIN
    s.sendall(get("/py/slow?ms=1000", request_id))
    half_close_and_read(s)


def head_cut():
    request_id = new_id("head_cut")
    s = connect("lb")
    report("head_cut", request_id, "lb", s)
    s.sendall(f"GET /py/fast?id={request_id} HTTP/1.1\r\nHost: lab\r\n".encode())
    time.sleep(0.1)
    s.close()


def upload_cut(target, path, give_up, scenario):
    request_id = new_id(scenario)
    s = connect(target)
    report(scenario, request_id, target, s)
    s.sendall(f"POST {path}?id={request_id} HTTP/1.1\r\nHost: lab\r\nContent-Length: 100000\r\n\r\n".encode()
              + b"u" * 30000)
    time.sleep(0.1)
    give_up(s)


def rst_before_answer():
    one_request("rst_before_answer", "lb", "/py/slow?ms=500", reset)


def rst_then_answered():
    # nginx ignores the client's abort: its answer goes to a connection the client reset, and fails
    one_request("rst_then_answered", "lb", "/keep/py/slow?ms=300", reset)


def rst_mid_response():
    # 32 MB: more than loopback's grown socket buffers hold, so nginx cannot have written it all
    # before the reset (4 MB once fit, and the answer was complete)
    def read_some_then_reset(s):
        received = 0
        while received < 65536:
            received += len(s.recv(65536))
        reset(s)
    one_request("rst_mid_response", "lb", "/jdk/size?bytes=32000000", read_some_then_reset, 0)


def pipelined():
    ids = [new_id("pipelined") for _ in range(3)]
    s = connect("lb")
    for request_id in ids:
        report("pipelined", request_id, "lb", s)
    s.sendall(get("/jdk/fast", ids[0]) + get("/py/fast", ids[1]) + get("/jdk/users/7", ids[2]))
    responses = s.makefile("rb")
    for _ in ids:
        read_response(responses)
    s.close()


def keepalive_then_fin(path, scenario):
    """A second request on a kept-alive connection, closed right after it is sent (wrk ending a run)."""
    first, second = new_id(scenario), new_id(scenario)
    s = connect("lb")
    report(scenario, first, "lb", s)
    report(scenario, second, "lb", s)
    s.sendall(get("/jdk/fast", first))
    read_response(s.makefile("rb"))
    s.sendall(get(path, second))
    s.close()


def direct_half_close_answered():
    one_request("direct_half_close_answered", "py", "/slow?ms=100", half_close_and_read, 0.02)


def direct_half_close_unframed():
    """The client half-closes; then an answer without a length, which the server's close ends."""
    one_request("direct_half_close_unframed", "py", "/unframed?ms=50", half_close_and_read, 0)


def direct_unframed_then_half_close():
    """The answer without a length and the server's close come first; then the client half-closes and reads."""
    one_request("direct_unframed_then_half_close", "py", "/unframed", half_close_and_read, 0.05)


def direct_fin_then_answered():
    one_request("direct_fin_then_answered", "jdk", "/slow?ms=300", fin)


SCENARIOS = [
    answered,
    lambda: fin_then_answered("jdk"),
    lambda: fin_then_answered("py"),
    lambda: fin_lb_gives_up("jdk"),
    lambda: fin_lb_gives_up("py"),
    half_close_answered,
    half_close_unanswered,
    fin_with_request,
    head_cut,
    lambda: upload_cut("lb", "/jdk/upload", fin, "upload_cut"),
    lambda: upload_cut("lb", "/jdk/upload", reset, "upload_cut_rst"),
    lambda: upload_cut("jdk", "/upload", fin, "direct_upload_cut_jdk"),
    lambda: upload_cut("py", "/upload", fin, "direct_upload_cut_py"),
    rst_before_answer,
    rst_then_answered,
    rst_mid_response,
    pipelined,
    lambda: keepalive_then_fin("/keep/py/slow?ms=100", "keepalive_then_fin_answered"),
    lambda: keepalive_then_fin("/py/slow?ms=100", "keepalive_then_fin_gives_up"),
    direct_half_close_answered,
    direct_half_close_unframed,
    direct_unframed_then_half_close,
    direct_fin_then_answered,
]

for _ in range(ROUNDS):
    for scenario in SCENARIOS:
        scenario()
        time.sleep(0.05)
# every backend finishes what it was still answering
time.sleep(1.5)
