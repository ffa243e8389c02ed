"""The set-*-partition-list commands: an item's or a key's partition list, changed with the
keychain's password."""
from __future__ import annotations

from keychain_claims.security import errors
from keychain_claims.security.errors import SecError, Usage
from keychain_claims.security.options import OPTIONS, getopt
from keychain_claims.sim import agent, crypto, store
from keychain_claims.sim.item_commands import FILTERS, INET_FILTERS, dump_item, inet_attribute, item_matches
from keychain_claims.sim.keychain_commands import live_key, set_unlocked, target_keychain

def set_generic_password_partition_list(args, io):
    return _set_partition_list(args, io, "set-generic-password-partition-list", "genp", FILTERS)


def set_internet_password_partition_list(args, io):
    return _set_partition_list(args, io, "set-internet-password-partition-list", "inet", INET_FILTERS)


def set_key_partition_list(args, io):
    """Keys (kSecClassKey): the simulator's keychains hold none, so after the unlock nothing matches."""
    return _set_partition_list(args, io, "set-key-partition-list", "keys", KEY_FILTERS)


KEY_FILTERS = {"a": "klbl", "c": "crtr", "D": "desc", "j": "icmt", "l": "labl", "t": "type"}


def _set_partition_list(args, io, command: str, item_class: str, filters: dict):
    """keychain_parse_args_and_set_partition_list + keychain_set_partition_list [SRC keychain_find.c]:
    unlock with the password (-k, else the prompt), SecItemCopyMatching, then each match is printed
    and its partition list replaced."""
    opts, names = getopt(args, OPTIONS[command])
    ids, password, query = None, None, {"class": item_class}
    for o, v in opts:
        if o == ":" and v == "k":           # -k without its value: prompt below [SRC]
            continue
        if o == ":":
            raise Usage()
        if o == "S":
            ids = v
        elif o == "k":
            password = v
        elif o in filters and v is not None:     # each filter takes an argument: getopt gave one
            query[filters[o]] = inet_attribute(filters[o], v)
    if len(names) > 1 or names == [""] or ids is None:
        raise Usage()
    name = names[0] if names else None
    path = target_keychain(name)
    if password is None:
        from keychain_claims.security import prompts
        password = agent.getpass(prompts.UNLOCK_PASSWORD.format(keychain=name if name else "default"))
    with store.Locked(path):
        try:
            if path is None:
                raise SecError(errors.NO_DEFAULT_KEYCHAIN)
            data = store.load_keychain(path)
            rt = store.runtime()
            if not live_key(path, data, rt, store.now()):
                if crypto.verifier(data["salt"], password) != data["verifier"]:
                    raise SecError(errors.AUTH_FAILED)
                set_unlocked(path, data, password)
        except SecError as exc:
            io.error(f"security: SecKeychainUnlock: {exc.text}")
            return 1
        items = [i for i in data["items"] if item_matches(i, query)] if item_class != "keys" else []
        if not items:
            io.error(f"security: SecItemCopyMatching: {errors.TEXT[errors.ITEM_NOT_FOUND]}")
            return 1
        for item in items:
            dump_item(io, path, data, item)
            if crypto.verifier(data["salt"], password) != data["verifier"]:
                io.error("security: SecKeychainItemSetAccessWithPassword: " + errors.TEXT[errors.AUTH_FAILED])
                return 1
            if data["version"] == 512:
                item["partition"] = ids.split(",")
        store.save_keychain(path, data)
    return 0
