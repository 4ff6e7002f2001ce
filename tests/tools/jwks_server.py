#!/usr/bin/env python3
"""jwks_server.py DIR CERT KEY: a test identity provider over HTTPS for test_jwks_url.

Serves DIR/jwks.json at /jwks.json and DIR/openid-configuration at
/.well-known/openid-configuration, exactly as the files are at each request (the test rewrites
them for a key rollover or a bad document). DIR/mode, when present, says "down" (answer 503) or
"hang" (hold the request 30 s, then close). Every request path is appended to DIR/requests.log.
Listens on 127.0.0.1 on a free port, written to DIR/port once it listens."""
import http.server
import os
import ssl
import sys
import time

DIR, CERT, KEY = sys.argv[1:4]
FILES = {"/jwks.json": "jwks.json", "/.well-known/openid-configuration": "openid-configuration"}


def read(name):
    try:
        with open(os.path.join(DIR, name), "rb") as f:
            return f.read()
    except OSError:
        return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        with open(os.path.join(DIR, "requests.log"), "a") as f:
            f.write(self.path + "\n")
        mode = (read("mode") or b"ok").strip()
        if mode == b"hang":
            time.sleep(30)
            return
        name = FILES.get(self.path)
        body = read(name) if name else None
        if mode == b"down" or body is None:
            self.send_response(503 if mode == b"down" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
tmp = os.path.join(DIR, "port.tmp")
with open(tmp, "w") as f:
    f.write(str(server.server_address[1]))
os.rename(tmp, os.path.join(DIR, "port"))
server.serve_forever()
