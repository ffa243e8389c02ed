"""Every macOS behaviour the simulator and the macOS backend assume, as an executable probe.

    keychain-claims assumptions                 list them: id, what is assumed, source, status
    keychain-claims assumptions --json          the same as JSON
    keychain-claims assumptions --settle [--backend auto|macos|sim|rehearsal] [--out DIR]
                                                run every probe against a scratch keychain, record
                                                what the host answered (one transcript per probe,
                                                DIR/<id>.json, and DIR/assumptions.json), say which held

A probe gets a `Host`: a sandbox of the chosen backend (scratch keychain, the shim on a Mac) and
returns `Held(bool, observed)` or `Unsettled(reason)` when this host cannot answer it (a dialog's
words without --real-dialogs; a command the shim refuses for safety).  Its calls are recorded,
redacted, as its transcript; `keychain-claims fidelity --settled DIR` reads those transcripts and
compares each host's answer with the simulator's.

Adding one: a function decorated with `@assumption(id, assumed, source, settles)` that takes a
`Host` and returns Held/Unsettled.  Nothing else to register.
"""
