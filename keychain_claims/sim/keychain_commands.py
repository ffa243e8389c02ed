"""The keychain commands (create, delete, lock, unlock, settings, info, search list, default,
password) and what every command needs of a keychain: its live key, unlocking it through the agent."""
from __future__ import annotations

import os

from keychain_claims.security import errors, libc
from keychain_claims.security.errors import SecError, Usage
from keychain_claims.security.options import OPTIONS, getopt
from keychain_claims.sim import acl, agent, crypto, formats, store, unverified

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


def set_unlocked(path: str, data: dict, password: str) -> None:
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


def search_list(names: list[str]) -> list[str]:
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
            set_unlocked(path, data, password)
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
            for session in store.sessions():      # a keychain made again at this path is another database
                rt = store.runtime(session)
                if rt.pop(path, None) is not None:
                    store.save_runtime(rt, session)
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
        set_unlocked(path, data, password)
    return 0


def target_keychain(name: str | None) -> str | None:
    return store.resolve(name) if name else _default_path()


def set_keychain_settings(args, io):
    opts, names = getopt(args, OPTIONS["set-keychain-settings"])
    settings: dict[str, int | bool | None] = {"timeout": None, "lock_on_sleep": False}
    for o, v in opts:
        if o == "l":
            settings["lock_on_sleep"] = True
        if o == "t" and v is not None:          # "t:" takes an argument: getopt gave one
            settings["timeout"] = libc.atoi(v)
    if len(names) > 1 or names == [""]:          # one keychain at most, and not "" [SRC]
        raise Usage()
    name = names[0] if names else None
    path = target_keychain(name)
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
    path = target_keychain(name)
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
    path = target_keychain(name)
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
            set_unlocked(path, data, new)
    except SecError as exc:
        io.error(f'security: error changing password for "{_typed(name)}": {exc.text}')
        return exc.status
    return 0
