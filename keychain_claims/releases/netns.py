"""Run a command cut off from the network: inside `unshare -n`, bring loopback up, start the
API stand-in on it, run the command, stop.  Usage: python -m keychain_claims.releases.netns -- CMD..."""
from __future__ import annotations

import os
import subprocess
import sys

from keychain_claims.releases.api import serve


def main() -> int:
    argv = sys.argv[1:]
    if argv and argv[0] == "--":
        argv = argv[1:]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=False, capture_output=True)
    server, port = serve()
    env = {**os.environ, "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}"}
    try:
        return subprocess.run(argv, env=env).returncode
    finally:
        server.shutdown()


if __name__ == "__main__":
    sys.exit(main())
