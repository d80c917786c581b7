"""A private package index behind TLS, on 127.0.0.1 only, for tests/cli/network_pip.rs.

  index.py --tls DIR/NAME --root WHEELS   pypiserver serving WHEELS over HTTPS, with a
                                          certificate for 127.0.0.1 signed by the root
                                          DIR/NAME (made by `standin.py ca`)

pypiserver speaks plain HTTP: its WSGI app runs here under the standard library's threading
WSGI server with the listening socket wrapped in TLS. Binds a free port and prints
`ready PORT` on its first line. Needs pypiserver and cryptography (scripts/provision.sh puts
them in target/net-venv).
"""

import argparse
import socketserver
import sys
import os
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import standin  # noqa: E402  (the certificates)

import pypiserver  # noqa: E402


class Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class Quiet(WSGIRequestHandler):
    def log_message(self, *a):
        pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tls", required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--port", type=int, default=0)
    opts = p.parse_args()
    app = pypiserver.app(roots=[opts.root], authenticate=[], password_file=".")
    server = make_server("127.0.0.1", opts.port, app, server_class=Server, handler_class=Quiet)
    ctx = standin.leaf_context(opts.tls, "127.0.0.1")
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("ready %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
