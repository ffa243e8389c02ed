"""One function per subcommand: `fn(args, io) -> int` (the command's result, an OSStatus
or 0/1/2).  Output goes through `io` so `security -i` and tests can capture it."""
from __future__ import annotations

import os

from keychain_claims.security.commands import COMMANDS
from keychain_claims.security import errors, libc
from keychain_claims.security.errors import SecError, Usage
from keychain_claims.security.options import OPTIONS, getopt
from keychain_claims.sim import acl, agent, crypto, formats, store, unverified


class IO:
    def __init__(self, out=None, err=None):
        import sys
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def error(self, text: str) -> None:
        self.err.write(text + "\n")


# ---------------------------------------------------------------------------- keychains
def _typed(name: str | None) -> str:
    return name if name is not None else "<NULL>"


def live_key(path: str, data: dict, rt: dict, t: float) -> str | None:
    entry = rt.get(path)
    if not entry:
        return None
    timeout = data["settings"].get("timeout")
    if timeout is not None and t - entry["last"] > timeout:
        del rt[path]
        return None
    return entry["key"]


IDLE_RESOLUTION = 1.0      # seconds: the idle timer's last use is kept to this (timeouts are whole seconds)


def unlock_key(path: str) -> str:
    """The keychain's key, unlocking through the agent if it is locked (dialog or 36)."""
    with store.Locked():
        data = store.peek_keychain(path)
        rt, t = store.runtime(), store.now()
        k = live_key(path, data, rt, t)
        if k:
            if not 0 <= t - rt[path]["last"] < IDLE_RESOLUTION:     # a use within the same second: no write
                rt[path]["last"] = t
                store.save_runtime(rt)
            return k
        store.save_runtime(rt)
    typed: list[str] = []

    def check(password: str) -> bool:
        ok = crypto.verifier(data["salt"], password) == data["verifier"]
        if ok:
            typed.append(password)
        return ok

    agent.unlock(acl.app_name(acl.caller()), store.display_name(path), check)
    k = crypto.key(data["salt"], typed[0])
    with store.Locked():
        rt = store.runtime()
        rt[path] = {"key": k, "last": store.now()}
        store.save_runtime(rt)
    return k


def _set_unlocked(path: str, data: dict, password: str) -> None:
    rt = store.runtime()
    rt[path] = {"key": crypto.key(data["salt"], password), "last": store.now()}
    store.save_runtime(rt)


def _existing(name: str | None, fn: str, io) -> tuple[str | None, int]:
    """The keychain `name` (or the default one) if it exists; else print `security: <fn> <kc>: <text>`
    and return (None, status)."""
    path = store.resolve(name) if name else _default_path()
    if path is None or not os.path.exists(path):
        status = errors.NO_DEFAULT_KEYCHAIN if path is None else errors.NO_SUCH_KEYCHAIN
        io.error(f"security: {fn} {_typed(name)}: {errors.TEXT[status]}")
        return None, status
    return path, 0


def _default_path() -> str | None:
    return store.prefs().get("default")


def _search_list(names: list[str]) -> list[str]:
    return [store.resolve(n) for n in names] if names else list(store.prefs().get("search", []))


# ---------------------------------------------------------------------------- keychain commands
def create_keychain(args, io):
    opts, names = getopt(args, OPTIONS["create-keychain"])
    password = None
    for o, v in opts:
        if o == "p":
            password = v
    if not names:
        name = agent.getpass_visible("keychain to create: ")
        names = [name] if name else []
    for name in names:
        if password is None:
            from keychain_claims.security import prompts
            for _ in range(3):
                first = agent.getpass(prompts.NEW_KEYCHAIN_PASSWORD)
                if agent.getpass(prompts.RETYPE_NEW_KEYCHAIN_PASSWORD) == first:
                    password = first
                    break
                io.error("passwords don't match")
            else:
                return 1
        path = store.resolve(name, creating=True)
        with store.Locked(path):
            if os.path.exists(path) or (path.endswith("-db") and os.path.exists(path[:-3])):
                io.error(f"security: SecKeychainCreate {name}: {errors.TEXT[errors.DUPLICATE_KEYCHAIN]}")
                return errors.DUPLICATE_KEYCHAIN
            salt = crypto.new_salt()
            data = {"magic": store.MAGIC, "version": store.version_for(path), "salt": salt,
                    "verifier": crypto.verifier(salt, password),
                    "settings": {"timeout": 300, "lock_on_sleep": True}, "items": [], "next_id": 1}
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            store.save_keychain(path, data)
            _set_unlocked(path, data, password)
            if store.display_name(path) == "login":           # shouldAddToSearchList
                prefs = store.prefs()
                if path not in prefs["search"]:
                    prefs["search"].append(path)
                prefs["default"] = prefs.get("default") or path
                store.save_prefs(prefs)
    return 0


def delete_keychain(args, io):
    opts, names = getopt(args, OPTIONS["delete-keychain"])
    if opts:
        raise Usage()
    if not names:                               # SecKeychainDelete(NULL), reported by do_delete's sec_perror [SRC]
        io.error(f"security: SecKeychainDelete: {errors.TEXT[unverified.DELETE_KEYCHAIN_NO_ARGS_STATUS]}")
        return unverified.DELETE_KEYCHAIN_NO_ARGS_STATUS
    for name in names:
        path = store.resolve(name)
        with store.Locked(path):
            if not os.path.exists(path):
                io.error(f"security: SecKeychainDelete: {errors.TEXT[errors.NO_SUCH_KEYCHAIN]}")
                return errors.NO_SUCH_KEYCHAIN
            os.unlink(path)
            prefs = store.prefs()
            prefs["search"] = [p for p in prefs["search"] if p != path]
            if prefs.get("default") == path:
                prefs["default"] = None
            store.save_prefs(prefs)
            rt = store.runtime()
            rt.pop(path, None)
            store.save_runtime(rt)
    return 0


def lock_keychain(args, io):
    opts, names = getopt(args, OPTIONS["lock-keychain"])
    every = False
    for o, _ in opts:
        every = every or o == "a"
    with store.Locked():
        rt = store.runtime()
        if every:
            rt = {}
        else:
            path, status = _existing(names[0] if names else None, "SecKeychainLock", io)
            if path is None:
                return status
            rt.pop(path, None)
        store.save_runtime(rt)
    return 0


def unlock_keychain(args, io):
    opts, names = getopt(args, OPTIONS["unlock-keychain"])
    password = None
    for o, v in opts:
        if o == "p":
            password = v
    name = names[0] if names else None
    path, status = _existing(name, "SecKeychainUnlock", io)
    if path is None:
        return status
    if password is None:
        from keychain_claims.security import prompts
        password = agent.getpass(prompts.UNLOCK_PASSWORD.format(keychain=name if name else "default"))
    with store.Locked():
        data = store.load_keychain(path)
        rt, t = store.runtime(), store.now()
        if live_key(path, data, rt, t):       # already unlocked: any password is accepted [SRC]
            rt[path]["last"] = t
            store.save_runtime(rt)
            return 0
        if crypto.verifier(data["salt"], password) != data["verifier"]:
            io.error(f"security: SecKeychainUnlock {_typed(name)}: {errors.TEXT[errors.AUTH_FAILED]}")
            return errors.AUTH_FAILED
        _set_unlocked(path, data, password)
    return 0


def _target(name: str | None) -> str | None:
    return store.resolve(name) if name else _default_path()


def set_keychain_settings(args, io):
    opts, names = getopt(args, OPTIONS["set-keychain-settings"])
    settings = {"timeout": None, "lock_on_sleep": False}
    for o, v in opts:
        if o == "l":
            settings["lock_on_sleep"] = True
        if o == "t":
            settings["timeout"] = libc.atoi(v)
    if len(names) > 1 or names == [""]:          # one keychain at most, and not "" [SRC]
        raise Usage()
    name = names[0] if names else None
    path = _target(name)
    try:
        if path is None:
            raise SecError(errors.NO_DEFAULT_KEYCHAIN)
        unlock_key(path)
        with store.Locked(path):
            data = store.load_keychain(path)
            data["settings"] = settings
            store.save_keychain(path, data)
    except SecError as exc:
        io.error(f"security: SecKeychainSetSettings {_typed(name)}: {exc.text}")
        return exc.status
    return 0


def show_keychain_info(args, io):
    opts, names = getopt(args, OPTIONS["show-keychain-info"])
    salt = False
    for o, _ in opts:
        salt = salt or o == "s"
    name = names[0] if names else None
    path = _target(name)
    try:
        if path is None:
            raise SecError(errors.NO_DEFAULT_KEYCHAIN)
        unlock_key(path)
        data = store.load_keychain(path)
    except SecError as exc:
        io.error(f"security: SecKeychainCopySettings {_typed(name)}: {exc.text}")
        return exc.status
    line = formats.keychain_info(name, data["settings"])
    io.error(line + (f" salt={data['salt'].upper()}" if salt else ""))
    return 0


DOMAINS = ("user", "system", "common", "dynamic")


def _domain(opts) -> str | None:
    for o, v in opts:
        if o == "d":
            if v not in DOMAINS:
                return None
            return v
    return "user"


def list_keychains(args, io):
    opts, names = getopt(args, OPTIONS["list-keychains"])
    domain = _domain(opts)
    if domain is None:
        io.error(f"security: Invalid domain: {next(v for o, v in opts if o == 'd')}")
        raise Usage()
    setting = any(o == "s" for o, _ in opts)
    if names and not setting:
        raise Usage()
    explicit = any(o == "d" for o, _ in opts)
    if setting:
        if domain != "user":
            return 1
        with store.Locked():
            prefs = store.prefs()
            prefs["search"] = [store.resolve(n) for n in names]
            store.save_prefs(prefs)
        return 0
    prefs = store.prefs()
    if domain == "user":
        paths = prefs["search"] + ([] if explicit else [unverified.SYSTEM_KEYCHAIN])
    elif domain == "system":
        paths = [unverified.SYSTEM_KEYCHAIN]
    else:
        paths = []
    for p in paths:
        io.print(f'    "{p}"')
    return 0


def default_keychain(args, io):
    opts, names = getopt(args, OPTIONS["default-keychain"])
    domain = _domain(opts)
    if domain is None:
        io.error(f"security: Invalid domain: {next(v for o, v in opts if o == 'd')}")
        raise Usage()
    if any(o == "s" for o, _ in opts):
        if len(names) > 1:
            raise Usage()
        with store.Locked():
            prefs = store.prefs()
            prefs["default"] = store.resolve(names[0]) if names else None
            store.save_prefs(prefs)
        return 0
    if names:
        raise Usage()
    path = store.prefs().get("default") if domain == "user" else (
        unverified.SYSTEM_KEYCHAIN if domain == "system" else None)
    if not path:
        io.error(f"security: SecKeychainCopyDefault: {errors.TEXT[errors.NO_DEFAULT_KEYCHAIN]}")
        return 1
    io.print(f'    "{path}"')
    return 0


# ---------------------------------------------------------------------------- items
FILTERS = {"a": "acct", "c": "crtr", "C": "type", "D": "desc", "G": "gena", "j": "icmt", "l": "labl", "s": "svce"}


def _matches(item: dict, query: dict) -> bool:
    kind = query.get("class", "genp")
    if item.get("class", "genp") != kind:
        return False
    query = {k: v for k, v in query.items() if k != "class"}
    if kind == "genp" and "acct" in query and "svce" in query:   # both given: every other filter is ignored [SRC]
        query = {"acct": query["acct"], "svce": query["svce"]}
    return all(item["attrs"].get(k) == v for k, v in query.items())


def _find(paths: list[str], query: dict, every: bool = False) -> list[tuple[str, dict, dict]]:
    found = []
    for path in paths:
        try:
            data = store.peek_keychain(path)
        except SecError:
            if unverified.SKIP_MISSING_SEARCH_KEYCHAINS:
                continue
            raise
        if not every and query.get("class", "genp") == "genp" and "acct" in query and "svce" in query:
            item = store.find_item(path, "genp", ("acct", "svce"), (query["acct"], query["svce"]))   # indexed
            if item is not None:
                return [(path, data, item)]
            continue
        for item in data["items"]:
            if _matches(item, query):
                found.append((path, data, item))
                if not every:
                    return found
    return found


def _dump(io, path: str, data: dict, item: dict) -> None:
    for line in formats.attribute_lines(path, data["version"], item):
        io.print(line)


def _item(data: dict, item_id: int) -> dict:
    for item in data["items"]:
        if item["id"] == item_id:
            return item
    raise SecError(errors.ITEM_NOT_FOUND)          # deleted by someone else meanwhile


def _check_access(path: str, item_id: int) -> dict:
    """The ACL and (v512) partition checks of a secret read, with the access dialog if either
    fails [SRC acl_keychain.cpp, acls.cpp]; Always Allow is written back.  Returns the item."""
    who = acl.caller()
    data = store.peek_keychain(path)
    item = store.item_by_id(path, item_id)
    refused_by = acl.refused_by(item, who, data["version"])
    if refused_by is None:
        return item
    try:
        choice = agent.item_access(acl.app_name(who), item["attrs"].get("labl") or "", store.display_name(path),
                                   lambda pw: crypto.verifier(data["salt"], pw) == data["verifier"], refused_by)
    except SecError:
        acl.securityd_log(refused_by, item, who, None)
        raise
    acl.securityd_log(refused_by, item, who, choice)
    if choice == "Always Allow":
        with store.Locked(path):
            data = store.load_keychain(path)
            item = _item(data, item_id)
            acl.always_allow(item, who, data["version"])
            store.save_keychain(path, data)
    return item


def _read_secret(path: str, item_id: int) -> bytes:
    """SecKeychainItemCopyContent: unlock (dialog or 36), then the access checks, then the data."""
    key = unlock_key(path)
    item = _check_access(path, item_id)
    return crypto.unseal(key, item["data"])


def find_generic_password(args, io):
    opts, names = getopt(args, OPTIONS["find-generic-password"])
    query, show = {}, None
    for o, v in opts:
        if o in FILTERS:
            query[FILTERS[o]] = v
        if o in ("w", "g"):
            show = o
    return _show_found(io, _find(_search_list(names), query), show)


def _show_found(io, found, show):
    """The first match: its attributes, or (-g/-w) its secret after the access checks."""
    if not found:
        io.error(f"security: SecKeychainSearchCopyNext: {errors.TEXT[errors.ITEM_NOT_FOUND]}")
        return errors.ITEM_NOT_FOUND
    path, data, item = found[0]
    if show is None:
        if unverified.METADATA_NEEDS_UNLOCK:
            try:
                unlock_key(path)
            except SecError as exc:
                return exc.status
        _dump(io, path, data, item)
        return 0
    try:
        secret = _read_secret(path, item["id"])
    except SecError as exc:
        if exc.where:                              # the simulator's own state is damaged: say which file
            io.error(f"security: SecKeychainItemCopyContent: {exc.text}")
        return exc.status                          # nothing is printed [SRC]
    if show == "w":
        io.print(formats.secret_for_w(secret))
    else:
        _dump(io, path, data, item)
        io.error("password: " + formats.print_buffer(secret))
    return 0


def _hex(value: str) -> bytes | None:
    if len(value) % 2:
        value += "0"
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None


def _item_options(opts, io, attrs: dict, filters: dict, four_char: tuple, secret_opts: tuple):
    """The options add-generic-password and add-internet-password share [SRC keychain_add.c]:
    attributes into `attrs` (four-character codes checked), the secret (-p/-w given or prompted
    for, -X hex), -U, -A, -T.  Returns (secret, update, any_app, trusted), or the exit status
    of a failure already reported."""
    secret: bytes = b""
    update = any_app = False
    trusted: list[dict] | None = None
    for o, v in opts:
        if o == ":":
            if v not in ("p", "w"):             # -p/-w without a value: prompt for the password [SRC]
                raise Usage()
            from keychain_claims.security import prompts
            first = agent.getpass(prompts.NEW_ITEM_PASSWORD)
            if agent.getpass(prompts.RETYPE_NEW_ITEM_PASSWORD) != first:
                io.error("passwords don't match")
                return 1
            secret = first.encode("utf-8", "surrogateescape")
        elif o in four_char:
            if len(v.encode()) != 4:
                io.error("Error: four-character types must be exactly 4 characters long.")
                return 1
            attrs[filters[o]] = v
        elif o == "P":                          # internet passwords: the port, as strtoul reads it
            if libc.atoi(v):
                attrs["port"] = libc.atoi(v) & 0xFFFF
        elif o in filters:
            attrs[filters[o]] = v
        elif o in secret_opts:
            secret = v.encode("utf-8", "surrogateescape")
        elif o == "X":
            raw = _hex(v)
            if raw is None:                     # result 2: the usage follows [SRC]
                raise Usage("security: Unable to convert password data (-X must specify valid hex digits)")
            secret = raw
        elif o == "U":
            update = True
        elif o == "A":
            any_app = True
        elif o == "T":
            trusted = (trusted or []) + ([acl.app_for_path(v)] if v else [])
    return secret, update, any_app, trusted


def add_generic_password(args, io):
    opts, names = getopt(args, OPTIONS["add-generic-password"])
    attrs: dict = {}
    parsed = _item_options(opts, io, attrs, FILTERS, ("c", "C"), ("p", "w"))
    if isinstance(parsed, int):
        return parsed
    secret, update, any_app, trusted = parsed
    if "acct" not in attrs or "svce" not in attrs or len(names) > 1 or names == [""]:
        raise Usage()
    name = names[0] if names else None
    path = _target(name)
    where = name if name else "<default>"
    try:
        if path is None:
            raise SecError(errors.NO_DEFAULT_KEYCHAIN)
        key = unlock_key(path)
    except SecError as exc:
        io.error(f"security: SecKeychainItemCreateFromContent ({where}): {exc.text}")
        return exc.status
    who = acl.caller()
    modify = update
    if update and unverified.UPDATE_CHECKS_ACL:
        existing = _find([path], {"acct": attrs["acct"], "svce": attrs["svce"]})
        if existing:
            try:
                _check_access(path, existing[0][2]["id"])
            except SecError as exc:         # the modify failed: say so, then try an add [SRC keychain_add.c]
                io.error(f"security: SecKeychainItemModifyContent: {exc.text}")
                modify = False
    try:
        _store_item(path, key, who, "genp", attrs, ("acct", "svce"), "svce", secret, trusted, any_app, modify)
    except SecError as exc:
        io.error(f"security: SecKeychainItemCreateFromContent ({where}): {exc.text}")
        return exc.status
    return 0


def _store_item(path: str, key: str, who: dict, cls: str, attrs: dict, match: tuple[str, ...],
                label_from: str, secret: bytes, trusted, any_app: bool, modify: bool) -> None:
    """Add the item, or with `modify` update the one whose `match` attributes are the same (-U).
    Modified in place: creation date kept; the ACL is copied without its partition and integrity
    entries and the partition list becomes the MODIFIER's ID only [SRC Item.cpp updateSSGroup]."""
    with store.Locked(path):
        data = store.peek_keychain(path)            # read-only: changes go through append_item
        t = store.now()
        existing = store.find_item(path, cls, match, tuple(attrs.get(k) for k in match))
        if existing is not None and modify:
            existing = {**existing, "attrs": {**existing["attrs"], **attrs, "mdat": t},
                        "data": crypto.seal(key, secret)}
            if data["version"] == 512:
                existing["partition"] = [acl.partition_id(who)]
                existing["integrity"] = unverified.INTEGRITY_AFTER_UPDATE
            store.append_item(path, existing, data["next_id"])
            return
        if existing is not None:
            raise SecError(errors.DUPLICATE_ITEM)
        attrs.setdefault("labl", attrs[label_from])
        attrs["cdat"] = attrs["mdat"] = t
        item = {"id": data["next_id"], **({"class": cls} if cls != "genp" else {}), "attrs": attrs,
                "data": crypto.seal(key, secret), "acl": acl.default_acl(who, attrs["labl"], trusted, any_app),
                "partition": [acl.partition_id(who)] if data["version"] == 512 else None,
                "integrity": data["version"] == 512 and unverified.INTEGRITY_ENTRY}
        store.append_item(path, item, data["next_id"] + 1)


def delete_generic_password(args, io):
    opts, names = getopt(args, OPTIONS["delete-generic-password"])
    query = {}
    for o, v in opts:
        if o not in FILTERS:                # -g is in the getopt string but no case takes it [SRC]
            raise Usage()
        query[FILTERS[o]] = v
    if not query:
        raise Usage()
    return _delete_found(io, _find(_search_list(names), query))


def _delete_found(io, found):
    if not found:
        io.error(f"security: SecKeychainSearchCopyNext: {errors.TEXT[errors.ITEM_NOT_FOUND]}")
        return errors.ITEM_NOT_FOUND
    path, data, item = found[0]
    _dump(io, path, data, item)
    status = 0
    try:
        if unverified.DELETE_NEEDS_UNLOCK:
            unlock_key(path)
        if unverified.DELETE_CHECKS_ACL:
            _check_access(path, item["id"])
        with store.Locked(path):
            data = store.load_keychain(path)
            data["items"] = [i for i in data["items"] if i["id"] != item["id"]]
            store.save_keychain(path, data)
    except SecError as exc:
        status = exc.status
    io.error("password has been deleted.")          # even if the delete failed [SRC]
    return status


def dump_keychain(args, io):
    opts, names = getopt(args, OPTIONS["dump-keychain"])
    flags = {o for o, _ in opts}
    paths = [store.resolve(n) for n in names] if names else store.prefs().get("search", [])
    for path in paths:
        try:
            data = store.load_keychain(path)
            if "a" in flags and unverified.ACL_DUMP_NEEDS_UNLOCK:
                unlock_key(path)
        except SecError as exc:
            io.error(unverified.DUMP_UNLOCK_ERROR.format(text=exc.text))
            return exc.status
        for item in list(data["items"]):
            _dump(io, path, data, item)
            if "d" in flags:
                try:
                    io.print("data:\n" + formats.print_buffer(_read_secret(path, item["id"])))
                except SecError as exc:
                    io.error(unverified.DUMP_ITEM_DATA_ERROR.format(text=exc.text))
            if "a" in flags:
                for line in formats.acl_lines(item):
                    io.print(line)
    return 0


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
        elif o in filters:
            query[filters[o]] = _attr(filters[o], v)
    if len(names) > 1 or names == [""] or ids is None:
        raise Usage()
    name = names[0] if names else None
    path = _target(name)
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
                _set_unlocked(path, data, password)
        except SecError as exc:
            io.error(f"security: SecKeychainUnlock: {exc.text}")
            return 1
        items = [i for i in data["items"] if _matches(i, query)] if item_class != "keys" else []
        if not items:
            io.error(f"security: SecItemCopyMatching: {errors.TEXT[errors.ITEM_NOT_FOUND]}")
            return 1
        for item in items:
            _dump(io, path, data, item)
            if crypto.verifier(data["salt"], password) != data["verifier"]:
                io.error("security: SecKeychainItemSetAccessWithPassword: " + errors.TEXT[errors.AUTH_FAILED])
                return 1
            if data["version"] == 512:
                item["partition"] = ids.split(",")
        store.save_keychain(path, data)
    return 0


# ---------------------------------------------------------------------------- internet passwords
INET_FILTERS = {"a": "acct", "c": "crtr", "C": "type", "d": "sdmn", "D": "desc", "j": "icmt", "l": "labl",
                "p": "path", "P": "port", "r": "ptcl", "s": "srvr", "t": "atyp"}
INET_KEY = ("acct", "sdmn", "srvr", "ptcl", "atyp", "port", "path")     # the record's primary key


def _attr(key: str, value: str):
    """port is a number (strtoul), the rest are strings (four-character codes stay text)."""
    return libc.atoi(value) if key == "port" else value


def add_internet_password(args, io):
    """do_add_internet_password [SRC keychain_add.c]: label defaults to the server, authentication
    type to "dflt"; failures print `SecKeychainAddInternetPassword <keychain|<NULL>>: <text>`."""
    opts, names = getopt(args, OPTIONS["add-internet-password"])
    attrs: dict = {"atyp": "dflt"}
    parsed = _item_options(opts, io, attrs, INET_FILTERS, ("c", "C", "r", "t"), ("w",))
    if isinstance(parsed, int):
        return parsed
    secret, update, any_app, trusted = parsed
    if "acct" not in attrs or "srvr" not in attrs or len(names) > 1 or names == [""]:
        raise Usage()
    name = names[0] if names else None
    path = _target(name)
    where = name if name else "<NULL>"
    try:
        if path is None:
            raise SecError(errors.NO_DEFAULT_KEYCHAIN)
        key = unlock_key(path)
        _store_item(path, key, acl.caller(), "inet", attrs, INET_KEY, "srvr", secret, trusted, any_app, update)
    except SecError as exc:
        io.error(f"security: SecKeychainAddInternetPassword {where}: {exc.text}")
        return exc.status
    return 0


def _inet_query(opts) -> tuple[dict, str | None]:
    query, show = {"class": "inet"}, None
    for o, v in opts:
        if o in ("w", "g"):
            show = o
        elif o in INET_FILTERS:
            query[INET_FILTERS[o]] = _attr(INET_FILTERS[o], v)
    return query, show


def find_internet_password(args, io):
    opts, names = getopt(args, OPTIONS["find-internet-password"])
    query, show = _inet_query(opts)
    return _show_found(io, _find(_search_list(names), query), show)


def delete_internet_password(args, io):
    opts, names = getopt(args, OPTIONS["delete-internet-password"])
    if any(o == "g" for o, _ in opts):            # in the getopt string, but no case takes it [SRC]
        raise Usage()
    query, _ = _inet_query(opts)
    if len(query) == 1:
        raise Usage()
    return _delete_found(io, _find(_search_list(names), query))


# ---------------------------------------------------------------------------- set-keychain-password, error
def set_keychain_password(args, io):
    """do_keychain_set_password [SRC keychain_set_settings.c]: the old password (-o or prompted), the
    new one (-p, or prompted twice: a mismatch is `try again`), then SecKeychainChangePassword."""
    opts, names = getopt(args, OPTIONS["set-keychain-password"])
    if len(names) > 1 or names == [""]:
        raise Usage()
    old = next((v for o, v in opts if o == "o"), None)
    new = next((v for o, v in opts if o == "p"), None)
    name = names[0] if names else None
    from keychain_claims.security import prompts
    if old is None:
        old = agent.getpass(prompts.OLD_KEYCHAIN_PASSWORD)
    if new is None:
        first = agent.getpass(prompts.NEW_KEYCHAIN_PASSWORD_CHANGE)
        new = first if agent.getpass(prompts.RETYPE_NEW_KEYCHAIN_PASSWORD_CHANGE) == first else None
    if new is None:
        io.error("security: try again")
        return 1
    path = _target(name)
    try:
        if path is None:
            raise SecError(errors.NO_DEFAULT_KEYCHAIN)
        with store.Locked(path):
            if not os.path.exists(path):
                raise SecError(errors.NO_SUCH_KEYCHAIN)
            data = store.load_keychain(path)
            if crypto.verifier(data["salt"], old) != data["verifier"]:
                raise SecError(errors.AUTH_FAILED)
            old_key, salt = crypto.key(data["salt"], old), crypto.new_salt()
            new_key = crypto.key(salt, new)
            for item in data["items"]:
                item["data"] = crypto.seal(new_key, crypto.unseal(old_key, item["data"]))
            data["salt"], data["verifier"] = salt, crypto.verifier(salt, new)
            store.save_keychain(path, data)
            _set_unlocked(path, data, new)
    except SecError as exc:
        io.error(f'security: error changing password for "{_typed(name)}": {exc.text}')
        return exc.status
    return 0


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


def not_simulated(args, io):
    """A command of the real table the simulator does not model (see unverified.NOT_SIMULATED)."""
    raise NotImplementedError


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
