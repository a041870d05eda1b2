"""The Python backend of the integration tests: http.server, HTTP/1.1 keep-alive.
Usage: python3 py_backend.py PORT [ADDRESS]"""
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        code, body = 200, b"py ok\n"
        if url.path == "/slow":
            time.sleep(int(query.get("ms", "1000")) / 1000)
        elif url.path == "/bytes":
            body = b"x" * int(query.get("n", "0"))
        elif url.path == "/status":
            code = int(query.get("code", "200"))
            body = b"" if code in (204, 304) else b"status\n"
        self.send_response(code)
        if code not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer.daemon_threads = True
server = ThreadingHTTPServer((sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1", int(sys.argv[1])), Handler)
print("listening", flush=True)
server.serve_forever()
