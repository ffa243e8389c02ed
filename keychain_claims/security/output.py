"""What differs between two machines' security(1) output and nothing else: the paths of the
keychains and homes involved (given as substitutions) and the dates `dump-keychain` and
`find-*-password` print for cdat/mdat.  One normaliser for every comparison of security output:
the recorded transcripts of the suite (harness/transcripts.py) and the real transcripts the
simulator is measured on (measures/fidelity.py)."""
from __future__ import annotations

import re

# `"cdat"<timedate>=0x32303236...5A00  "20260101120000Z\000"` (or <NULL> where the date is unset)
TIMEDATE = re.compile(r'<timedate>=(?:0x[0-9A-Fa-f]+ +"[^"\n]*"|<NULL>)')


def normalise(text: str, substitutions: dict[str, str]) -> str:
    """`text` with each key of `substitutions` replaced by its value, in order, and every
    <timedate> value replaced by <date>."""
    for key, value in substitutions.items():
        text = text.replace(key, value)
    return TIMEDATE.sub("<timedate>=<date>", text)
