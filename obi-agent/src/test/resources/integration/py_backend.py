"""The Python backend of the integration tests: http.server, HTTP/1.1 keep-alive.
Usage: python3 py_backend.py PORT [ADDRESS]
With TLS_CERT and TLS_KEY set (PEM files), it serves HTTPS: Python's ssl module, that is OpenSSL.
With REQUEST_LOG set, every request is logged when it ends as "CLIENT_PORT TARGET STATUS OUTCOME":
STATUS is the status line this server wrote ("-" if none), OUTCOME "ok", "read-failed" (the request
never arrived in full) or "write-failed ERROR" (what the server saw when its client had gone)."""
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

REQUEST_LOG = open(os.environ["REQUEST_LOG"], "a", buffering=1) if os.environ.get("REQUEST_LOG") else None
LOG_LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.answer(read_body=False)

    def do_POST(self):
        self.answer(read_body=True)

    def answer(self, read_body):
        self.status_written = None
        if read_body:
            length = int(self.headers.get("Content-Length", "0"))
            if len(self.rfile.read(length)) < length:
                self.close_connection = True
                self.log_request_outcome("read-failed")
                return
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        code, body = 200, b"py ok\n"
        if url.path == "/slow":
            time.sleep(int(query.get("ms", "1000")) / 1000)
        elif url.path == "/bytes":
            body = b"x" * int(query.get("n", "0"))
        elif url.path == "/unframed":
            time.sleep(int(query.get("ms", "0")) / 1000)
            self.close_connection = True  # no length: the close ends the body
        elif url.path == "/status":
            code = int(query.get("code", "200"))
            body = b"" if code in (204, 304) else b"status\n"
        try:
            self.send_response(code)
            if code not in (204, 304) and url.path != "/unframed":
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()  # wfile is unbuffered: the status line is on the wire once this returns
            self.status_written = code
            if body:
                self.wfile.write(body)
        except OSError as e:
            self.close_connection = True
            self.log_request_outcome("write-failed " + type(e).__name__)
            return
        self.log_request_outcome("ok")

    def log_request_outcome(self, outcome):
        if REQUEST_LOG:
            status = "-" if self.status_written is None else self.status_written
            with LOG_LOCK:
                REQUEST_LOG.write(f"{self.client_address[1]} {self.path} {status} {outcome}\n")

    def log_message(self, *args):
        pass


ThreadingHTTPServer.daemon_threads = True
server = ThreadingHTTPServer((sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1", int(sys.argv[1])), Handler)
if os.environ.get("TLS_CERT"):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.environ["TLS_CERT"], os.environ["TLS_KEY"])
    server.socket = context.wrap_socket(server.socket, server_side=True)
print("listening", flush=True)
server.serve_forever()
