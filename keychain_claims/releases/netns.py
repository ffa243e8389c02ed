"""Run a command cut off from the network: inside `unshare -n`, bring loopback up, start the
stand-ins on it (Messages, and the OAuth hosts behind the HTTPS proxy), run the command, stop.
Usage: python -m keychain_claims.releases.netns STANDIN_FOLDER -- CMD..."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from keychain_claims.releases import standin


def main() -> int:
    folder, argv = sys.argv[1], sys.argv[2:]
    if argv and argv[0] == "--":
        argv = argv[1:]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=False, capture_output=True)
    try:
        env, stop = standin.start(Path(folder))
    except standin.StandInError as exc:
        (Path(folder) / standin.ERROR_FILE).write_text(str(exc))
        return 125
    try:
        return subprocess.run(argv, env={**os.environ, **env}).returncode
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(main())
