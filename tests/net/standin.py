"""Stand-ins for a company network, on 127.0.0.1 only, for tests/cli/network.rs.

  standin.py ca DIR NAME CN                 a root CA: DIR/NAME.pem and DIR/NAME.key
  standin.py leaf CA HOST OUT               a certificate for HOST signed by CA: OUT.pem, OUT.key
  standin.py proxy [--auth USER:PASS] [--intercept DIR/NAME] [--map HOST:PORT=ADDR:PORT]...
                   [--upstream-tls]         an HTTP proxy (CONNECT and absolute URIs); with
                                            --intercept it terminates TLS with certificates
                                            it signs with that root (TLS inspection) and talks
                                            to the upstream (plain, or TLS with --upstream-tls)
  standin.py registry [--tls DIR/NAME --name HOST] [--future-days N] [--limit L --remaining R]
                   [--status429]           a registry's token flow: /v2/ answers 401 Bearer,
                                            /token a token, manifests 200 or 429 with
                                            RateLimit headers

Every server binds 127.0.0.1 on a free port and prints `ready PORT` on its first line.
Needs the `cryptography` package (scripts/provision.sh puts it in target/net-venv).
"""

import argparse
import base64
import datetime
import http.server
import ipaddress
import json
import os
import select
import socket
import socketserver
import ssl
import sys
import tempfile
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def make_ca(prefix, cn):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Onramp Test"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now() - datetime.timedelta(days=1))
            .not_valid_after(now() + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    with open(prefix + ".pem", "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(prefix + ".key", "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


def load_ca(prefix):
    with open(prefix + ".pem", "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    with open(prefix + ".key", "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    return cert, key


def leaf_files(ca_prefix, host, out_prefix, future_days=0):
    """A certificate for `host` signed by the CA at `ca_prefix`: OUT.pem and OUT.key."""
    ca, ca_key = load_ca(ca_prefix)
    key = ec.generate_private_key(ec.SECP256R1())
    try:
        san = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        san = x509.DNSName(host)
    start = now() + datetime.timedelta(days=future_days) - datetime.timedelta(hours=1)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=10))
            .add_extension(x509.SubjectAlternativeName([san]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    with open(out_prefix + ".pem", "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(out_prefix + ".key", "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


def leaf_context(ca_prefix, host, future_days=0):
    """A server context with a certificate for `host` signed by the CA at `ca_prefix`."""
    out = os.path.join(tempfile.mkdtemp(), "leaf")
    leaf_files(ca_prefix, host, out, future_days)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(out + ".pem", out + ".key")
    return ctx


def log(*parts):
    """One line on stderr (the test's captured output): what the stand-in did, for a failure."""
    print("standin %.3f:" % (datetime.datetime.now().timestamp() % 1000), *parts,
          file=sys.stderr, flush=True)


def try_recv(s):
    """What `s` has now: bytes, b"" at its end, or None when nothing is ready yet."""
    s.setblocking(False)
    try:
        return s.recv(65536)
    except (ssl.SSLWantReadError, BlockingIOError):
        return None
    finally:
        s.setblocking(True)


def relay(a, b):
    """Copy both ways until one side ends or both are idle for 30 s.

    select() alone cannot serve a TLS socket: a record the handshake already pulled off the wire
    (a client's request sent right behind its Finished) sits in OpenSSL's buffer where neither
    select() nor pending() sees it. So every turn tries a non-blocking read of each TLS socket,
    and select() only paces the loop."""
    socks = [a, b]
    moved = {id(a): 0, id(b): 0}
    idle = 0.0
    try:
        while idle < 30:
            ready, _, _ = select.select(socks, [], [], 0.05)
            busy = False
            for s in socks:
                if s not in ready and not isinstance(s, ssl.SSLSocket):
                    continue
                data = try_recv(s)
                if data is None:
                    continue
                if not data:
                    return
                moved[id(s)] += len(data)
                (b if s is a else a).sendall(data)
                busy = True
            idle = 0.0 if busy else idle + 0.05
    except OSError as e:
        log("relay:", repr(e))
        return
    finally:
        log("relay done: %d bytes from the client, %d from upstream" % (moved[id(a)], moved[id(b)]))
        for s in socks:
            try:
                s.close()
            except OSError:
                pass


def read_head(sock):
    buf = b""
    while b"\r\n\r\n" not in buf and len(buf) < 65536:
        chunk = sock.recv(1)
        if not chunk:
            break
        buf += chunk
    return buf


class Proxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def proxy_handler(opts):
    maps = dict(m.split("=", 1) for m in opts.map)
    contexts = {}
    lock = threading.Lock()

    def upstream(target):
        host, port = maps.get(target, target).rsplit(":", 1)
        return socket.create_connection((host, int(port)), timeout=10)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            head = read_head(self.request)
            lines = head.decode("latin-1").split("\r\n")
            if not lines or " " not in lines[0]:
                return
            method, target = lines[0].split(" ")[:2]
            headers = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip()
                       for l in lines[1:] if ":" in l}
            if opts.auth:
                want = "Basic " + base64.b64encode(opts.auth.encode()).decode()
                if headers.get("proxy-authorization") != want:
                    self.request.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                                         b"Proxy-Authenticate: Basic realm=\"onramp-test\"\r\n"
                                         b"Content-Length: 0\r\nConnection: close\r\n\r\n")
                    return
            if method == "CONNECT":
                log("CONNECT", target)
                try:
                    up = upstream(target)
                except OSError as e:
                    log("upstream", target, repr(e))
                    self.request.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                    return
                self.request.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                client = self.request
                if opts.intercept:
                    host = target.rsplit(":", 1)[0]
                    with lock:
                        if host not in contexts:
                            contexts[host] = leaf_context(opts.intercept, host)
                    try:
                        client = contexts[host].wrap_socket(self.request, server_side=True)
                    except (ssl.SSLError, OSError) as e:
                        log("client handshake", host, repr(e))
                        up.close()
                        return
                    if opts.upstream_tls:
                        uctx = ssl.create_default_context(cafile=opts.upstream_ca)
                        try:
                            up = uctx.wrap_socket(up, server_hostname=host)
                        except (ssl.SSLError, OSError) as e:
                            log("upstream handshake", host, repr(e))
                            client.close()
                            return
                relay(client, up)
                return
            # An absolute URI: forward the request as it came, minus the proxy's header.
            rest = target.split("://", 1)[1]
            authority = rest.split("/", 1)[0]
            path = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
            up = upstream(authority if ":" in authority else authority + ":80")
            kept = [l for l in lines[1:] if l and not l.lower().startswith("proxy-")]
            up.sendall(("%s %s HTTP/1.1\r\n" % (method, path)).encode() +
                       "\r\n".join(kept).encode() + b"\r\n\r\n")
            relay(self.request, up)

    return Handler


def registry_handler(opts, scheme_host):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def send(self, code, body=b"", headers=()):
            self.send_response(code)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def limits(self):
            out = []
            if opts.limit is not None:
                out.append(("RateLimit-Limit", "%d;w=21600" % opts.limit))
            if opts.remaining is not None:
                out.append(("RateLimit-Remaining", "%d;w=21600" % opts.remaining))
            return out

        def do_GET(self):
            if self.path == "/v2/" or self.path == "/v2":
                if self.headers.get("Authorization"):
                    return self.send(200, b"{}")
                realm = '%s/token' % scheme_host()
                return self.send(401, b"{}", [(
                    "WWW-Authenticate", 'Bearer realm="%s",service="standin"' % realm)])
            if self.path.startswith("/token"):
                return self.send(200, json.dumps({"token": "standin-token"}).encode(),
                                 [("Content-Type", "application/json")])
            if "/manifests/" in self.path:
                if opts.status429:
                    return self.send(429, b'{"errors":[{"code":"TOOMANYREQUESTS"}]}',
                                     self.limits() + [("Retry-After", "3600")])
                return self.send(200, b"{}", self.limits() + [
                    ("Docker-Content-Digest", "sha256:" + "0" * 64),
                    ("Content-Type", "application/vnd.oci.image.index.v1+json")])
            if self.path.startswith("/simple/"):
                return self.send(200, b"<html><body></body></html>")
            self.send(404)

        do_HEAD = do_GET

    return Handler


def serve(server):
    print("ready %d" % server.server_address[1], flush=True)
    server.serve_forever()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    ca = sub.add_parser("ca")
    ca.add_argument("dir")
    ca.add_argument("name")
    ca.add_argument("cn")
    lf = sub.add_parser("leaf")
    lf.add_argument("ca")
    lf.add_argument("host")
    lf.add_argument("out")
    px = sub.add_parser("proxy")
    px.add_argument("--auth")
    px.add_argument("--intercept")
    px.add_argument("--map", action="append", default=[])
    px.add_argument("--upstream-tls", action="store_true")
    px.add_argument("--upstream-ca")
    px.add_argument("--port", type=int, default=0)
    rg = sub.add_parser("registry")
    rg.add_argument("--tls")
    rg.add_argument("--name", default="127.0.0.1")
    rg.add_argument("--future-days", type=int, default=0)
    rg.add_argument("--limit", type=int)
    rg.add_argument("--remaining", type=int)
    rg.add_argument("--status429", action="store_true")
    rg.add_argument("--port", type=int, default=0)
    opts = p.parse_args()
    if opts.cmd == "ca":
        make_ca(os.path.join(opts.dir, opts.name), opts.cn)
        return
    if opts.cmd == "leaf":
        leaf_files(opts.ca, opts.host, opts.out)
        return
    if opts.cmd == "proxy":
        serve(Proxy(("127.0.0.1", opts.port), proxy_handler(opts)))
        return
    holder = {}

    def scheme_host():
        scheme = "https" if opts.tls else "http"
        return "%s://%s:%d" % (scheme, opts.name, holder["port"])

    server = http.server.ThreadingHTTPServer(("127.0.0.1", opts.port),
                                             registry_handler(opts, scheme_host))
    server.daemon_threads = True
    holder["port"] = server.server_address[1]
    if opts.tls:
        ctx = leaf_context(opts.tls, opts.name, opts.future_days)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    serve(server)


if __name__ == "__main__":
    sys.exit(main())
