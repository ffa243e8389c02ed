"""What security(1) *is*, independent of any implementation of it: its command table
(commands), option strings and getopt (options), `security -i` lines (lines), the C library
behaviour it inherits (libc), its error texts and exit statuses (errors), the prompts it and
SecurityAgent show (prompts), and process liveness (process).

The simulator (keychain_claims.sim) is one implementation of this vocabulary, the real tool
behind the Mac shim (backends/macos/shim.py) another; the harness speaks it to both.  Nothing
here imports either of them.
"""
