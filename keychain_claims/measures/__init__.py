"""Tools that measure what sits below them, each run on its own (a `keychain-claims` subcommand or a
test), never on a scenario's path: nothing under keychain_claims/ but the CLI imports this package.

  assumptions/   -- every macOS behaviour the simulator and the macOS backend assume, as a probe run on
                    a backend's sandbox (`keychain-claims assumptions [--settle]`)
  fidelity       -- the simulator replayed on real macOS transcripts, on the reported behaviour cases
                    and on settle transcripts (`keychain-claims fidelity`)
  behaviour      -- the reported behaviour cases (fixtures/behaviour/) rebuilt and run on the simulator
  replay         -- what those replays share: a throw-away HOME (`Box`), result and figure, comparisons
  transcripts    -- the suite's own recorded transcripts (harness/transcripts.py) replayed on the simulator
  bisect         -- the first Claude Code release on which a claim's verdict changes
                    (`keychain-claims bisect`), by running the suite on releases
"""
