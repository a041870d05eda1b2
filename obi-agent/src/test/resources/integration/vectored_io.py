"""
Requests and answers moved by sendmsg/recvmsg with several iovecs, the calls whose buffers the
kernel side finds through a struct msghdr:
- a client that writes two keep-alive requests to nginx, each as three iovecs, and reads the answers
  with recvmsg;
- a server that answers with a chunked body in four iovecs (head, two chunks, the last chunk) and
  keeps the connection open 1.5 s before it closes: its exchange ends at the last chunk only if that
  last iovec is found.
Prints {"client_port": ..., "server_port": ...} on its last line.
usage: vectored_io.py NGINX_PORT
"""
import json
import socket
import sys
import threading

HOLD_OPEN_S = 1.5


def read_answer(sock, ends):
    data = b""
    while not ends(data):
        chunk, _, _, _ = sock.recvmsg(65536)
        if not chunk:
            raise SystemExit(f"connection closed before the answer ended: {data!r}")
        data += chunk
    return data


def whole_response(data):
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    length = [int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
    return length and len(body) >= length[0]


def client(nginx_port):
    with socket.create_connection(("127.0.0.1", nginx_port)) as s:
        for n in (1, 2):
            s.sendmsg([f"GET /local?vectored={n} HTTP/1.1\r\n".encode(), b"Host: lab\r\n", b"\r\n"])
            answer = read_answer(s, whole_response)
            if not answer.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"nginx answered {answer!r}")
        return s.getsockname()[1]


def serve_one(listener):
    conn, _ = listener.accept()
    with conn:
        read_answer(conn, lambda d: d.endswith(b"\r\n\r\n"))
        conn.sendmsg([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"5\r\nhello\r\n",
                      b"6\r\n world\r\n", b"0\r\n\r\n"])
        threading.Event().wait(HOLD_OPEN_S)


def server():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        t = threading.Thread(target=serve_one, args=(listener,))
        t.start()
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"GET /chunked-vectored HTTP/1.1\r\nHost: lab\r\n\r\n")
            answer = read_answer(s, lambda d: d.endswith(b"0\r\n\r\n"))
            if b"hello" not in answer or b" world" not in answer:
                raise SystemExit(f"unexpected answer {answer!r}")
            s.recv(1)  # the server's close
        t.join()
        return port


if __name__ == "__main__":
    print(json.dumps({"client_port": client(int(sys.argv[1])), "server_port": server()}))
