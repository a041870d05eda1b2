"""A server whose accept, first read or answer is late on purpose: python3 slow_server.py PORT ACCEPT_MS READ_MS PROCESS_MS"""
import socket, sys, time
port, accept_ms, read_ms, process_ms = (int(a) for a in sys.argv[1:5])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(64)
print("ready", flush=True)
while True:
    # wait until a connection is in the accept queue, then leave it there
    import select
    select.select([s], [], [])
    time.sleep(accept_ms / 1000)
    c, _ = s.accept()
    select.select([c], [], [])
    time.sleep(read_ms / 1000)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(65536)
        if not chunk:
            break
        data += chunk
    time.sleep(process_ms / 1000)
    body = b"ok\n"
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n" + body)
    c.close()
