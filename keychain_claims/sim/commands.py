"""One function per subcommand: `fn(args, io) -> int` (the command's result, an OSStatus
or 0/1/2).  Output goes through `io` so `security -i` and tests can capture it."""
from __future__ import annotations

from keychain_claims.security import errors, libc
from keychain_claims.security.commands import COMMANDS
from keychain_claims.sim import unverified
from keychain_claims.sim.item_commands import (add_generic_password, add_internet_password, delete_generic_password,
                                               delete_internet_password, dump_keychain, find_generic_password,
                                               find_internet_password)
from keychain_claims.sim.keychain_commands import (create_keychain, default_keychain, delete_keychain, list_keychains,
                                                   lock_keychain, set_keychain_password, set_keychain_settings,
                                                   show_keychain_info, unlock_keychain)
from keychain_claims.sim.partition_commands import (set_generic_password_partition_list,
                                                    set_internet_password_partition_list, set_key_partition_list)


class IO:
    def __init__(self, out=None, err=None):
        import sys
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def error(self, text: str) -> None:
        self.err.write(text + "\n")


def error(args, io):
    """display_error_code [SRC display_error_code.c]: `Error: 0x%08X %d <text>` per code, on stdout;
    the result is always 1."""
    for arg in args:
        if arg == "error":
            continue
        code = libc.strtoul(arg)
        signed = code - (1 << 32) if code & 0x80000000 else code
        text = errors.TEXT.get(signed) or unverified.ERROR_TEXT_UNKNOWN.format(code=signed)
        io.print(f"Error: 0x{code:08X} {signed} {text}")
    return 1


# name -> the function that simulates it; every other command of security's table exists (prefix
# matching must see it) but is not modelled
SIMULATED = {
    "list-keychains": list_keychains, "default-keychain": default_keychain, "create-keychain": create_keychain,
    "delete-keychain": delete_keychain, "lock-keychain": lock_keychain, "unlock-keychain": unlock_keychain,
    "set-keychain-settings": set_keychain_settings, "show-keychain-info": show_keychain_info,
    "dump-keychain": dump_keychain, "add-generic-password": add_generic_password,
    "find-generic-password": find_generic_password, "delete-generic-password": delete_generic_password,
    "set-generic-password-partition-list": set_generic_password_partition_list,
    "set-keychain-password": set_keychain_password, "add-internet-password": add_internet_password,
    "find-internet-password": find_internet_password, "delete-internet-password": delete_internet_password,
    "set-internet-password-partition-list": set_internet_password_partition_list,
    "set-key-partition-list": set_key_partition_list, "error": error,
}


def _table():
    return [(name, SIMULATED.get(name), usage, help_text) for name, usage, help_text in COMMANDS]


# name, function (None: not simulated), usage, help -- security's command table in its order, so
# prefix matching takes the first match as security does [SRC security.c, security/commands.py]
TABLE = _table()


def lookup(name: str):
    """The command `name` names: the first in the table's order that starts with it (strncmp over
    the typed length: even "" matches the first, `help`) [SRC security.c match_command]."""
    for row in TABLE:
        if row[0].startswith(name):
            return row
    return None
