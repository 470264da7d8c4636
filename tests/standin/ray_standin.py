"""`ray` in the stand-in image: enough of `ray start` for a multi-node vllm-ascend compose file.

`ray start --head ...` prints Ray's banner and returns (the real one leaves its daemons behind);
`ray start --address=HEAD:6379 --node-ip-address=SELF --block` checks that the head's address is
reachable over TCP (the real worker connects to the GCS there), prints what it joined and then blocks
like the real `--block`. Anything else exits 2."""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import time


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "start":
        print(f"ray stand-in: unsupported command: {' '.join(argv)}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="ray start")
    parser.add_argument("--head", action="store_true")
    parser.add_argument("--address")
    parser.add_argument("--port", type=int, default=6379)
    parser.add_argument("--node-ip-address")
    parser.add_argument("--block", action="store_true")
    parser.add_argument("--disable-usage-stats", action="store_true")
    args, _ = parser.parse_known_args(argv[1:])  # other ray flags do not matter here
    if args.head:
        # a listening socket stands in for the GCS, so that workers can reach the head
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("0.0.0.0", args.port))
        server.listen()
        print(f"Ray runtime started. head node {args.node_ip_address}:{args.port} (stand-in)", flush=True)
        if args.block:
            _block()
        # keep serving the GCS port from a child while the shell goes on to `vllm serve`
        import os

        if os.fork() == 0:
            while True:
                conn, _ = server.accept()
                conn.close()
        return 0
    host, _, port = (args.address or "").rpartition(":")
    for _ in range(30):
        try:
            socket.create_connection((host, int(port)), timeout=2).close()
            break
        except OSError:
            time.sleep(1)
    else:
        print(f"ConnectionError: could not reach the Ray head at {args.address}", file=sys.stderr, flush=True)
        return 1
    print(f"Ray runtime started. joined {args.address} as {args.node_ip_address} (stand-in)", flush=True)
    if args.block:
        _block()
    return 0


def _block() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
