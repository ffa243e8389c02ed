"""The item commands: find, add, delete and dump generic and internet passwords, through one
search and one access check."""
from __future__ import annotations

from keychain_claims.security import errors, libc
from keychain_claims.security.errors import SecError, Usage
from keychain_claims.security.options import OPTIONS, getopt
from keychain_claims.sim import acl, agent, crypto, formats, store, unverified
from keychain_claims.sim.keychain_commands import search_list, target_keychain, unlock_key

# ---------------------------------------------------------------------------- items
FILTERS = {"a": "acct", "c": "crtr", "C": "type", "D": "desc", "G": "gena", "j": "icmt", "l": "labl", "s": "svce"}


def item_matches(item: dict, query: dict) -> bool:
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
            if item_matches(item, query):
                found.append((path, data, item))
                if not every:
                    return found
    return found


def dump_item(io, path: str, data: dict, item: dict) -> None:
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
    return _show_found(io, _find(search_list(names), query), show)


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
        dump_item(io, path, data, item)
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
        dump_item(io, path, data, item)
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
    path = target_keychain(name)
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
    return _delete_found(io, _find(search_list(names), query))


def _delete_found(io, found):
    if not found:
        io.error(f"security: SecKeychainSearchCopyNext: {errors.TEXT[errors.ITEM_NOT_FOUND]}")
        return errors.ITEM_NOT_FOUND
    path, data, item = found[0]
    dump_item(io, path, data, item)
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
            dump_item(io, path, data, item)
            if "d" in flags:
                try:
                    io.print("data:\n" + formats.print_buffer(_read_secret(path, item["id"])))
                except SecError as exc:
                    io.error(unverified.DUMP_ITEM_DATA_ERROR.format(text=exc.text))
            if "a" in flags:
                for line in formats.acl_lines(item):
                    io.print(line)
    return 0


# ---------------------------------------------------------------------------- internet passwords
INET_FILTERS = {"a": "acct", "c": "crtr", "C": "type", "d": "sdmn", "D": "desc", "j": "icmt", "l": "labl",
                "p": "path", "P": "port", "r": "ptcl", "s": "srvr", "t": "atyp"}
INET_KEY = ("acct", "sdmn", "srvr", "ptcl", "atyp", "port", "path")     # the record's primary key


def inet_attribute(key: str, value: str):
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
    path = target_keychain(name)
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
            query[INET_FILTERS[o]] = inet_attribute(INET_FILTERS[o], v)
    return query, show


def find_internet_password(args, io):
    opts, names = getopt(args, OPTIONS["find-internet-password"])
    query, show = _inet_query(opts)
    return _show_found(io, _find(search_list(names), query), show)


def delete_internet_password(args, io):
    opts, names = getopt(args, OPTIONS["delete-internet-password"])
    if any(o == "g" for o, _ in opts):            # in the getopt string, but no case takes it [SRC]
        raise Usage()
    query, _ = _inet_query(opts)
    if len(query) == 1:
        raise Usage()
    return _delete_found(io, _find(search_list(names), query))
