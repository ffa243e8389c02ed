"""Everything the simulator does that the spec marks [UNV] or [INF], or that had to be
invented.  One place, so a real-Mac transcript (fixtures/transcripts/macos/) can correct it.
Each constant cites the line of shared/reference/security-cli.md (§section) or the source it stands
for, and says (`settle:`) which transcript or source would settle it.

Each settle line is also an executable probe (keychain_claims/measures/assumptions/, whose `settles` names the
constant here): `keychain-claims assumptions --settle --backend macos` answers it on a Mac and records
the transcript; `keychain-claims fidelity --settled DIR` says where this module must change.

Kept import-light: it is on every call's path."""

from keychain_claims.security import errors

# ---------------------------------------------------------------- dialogs (SecurityAgent)
# §2 find-generic-password: "128: cancel/Deny [UNV; jaraco/keyring treats -128 as denied]"
DENY_STATUS = errors.USER_CANCELED
#   settle: a recorded Deny on a Mac (exit status of `find-generic-password -w` after Deny)
# §3 Dialog: the wrong keychain password typed prompts.DIALOG_TRIES times in the item dialog.
# Invented (the real dialog shakes and stays up); errSecAuthFailed is what §3 lists for "UI not allowed".
DIALOG_GAVE_UP_STATUS = errors.AUTH_FAILED
#   settle: a recorded dialog answered with a wrong password three times
# same for the unlock dialog (invented)
UNLOCK_GAVE_UP_STATUS = errors.AUTH_FAILED
#   settle: the same for an unlock dialog
# invented: the terminal closes (EOF) while a dialog waits -> the dialog's cancelling button
ITEM_DIALOG_EOF_CHOICE = "Deny"
UNLOCK_DIALOG_EOF_CHOICE = "Cancel"
#   settle: nothing on a Mac (no terminal draws the real dialog); a simulator convention
# §5 "-g/-w: item prompt, or an unlock prompt if locked" -- modelled as two dialogs in a row when
# the keychain is locked AND the ACL/partition check fails (the real agent may merge them) [UNV]
# (behaviour of item_commands._read_secret, not a switch)

# ---------------------------------------------------------------- which operations check what
# §3 "Whether -U prompts on another app's item: [UNV]" -- modelled as: it does not
UPDATE_CHECKS_ACL = False
#   settle: `add-generic-password -U` by security on an item it is not trusted for, recorded on a Mac
# §2 delete-generic-password: an ACL check on delete is not described -- none
DELETE_CHECKS_ACL = False
#   settle: `delete-generic-password` of an item security is not trusted for, recorded on a Mac
# §2 delete-generic-password: deleting writes the database, modelled as needing it unlocked (36 without GUI)
DELETE_NEEDS_UNLOCK = True
#   settle: `delete-generic-password` on a locked keychain without a GUI session, recorded on a Mac
# §2 find-generic-password: "Attributes are read without securityd decryption, so probably no unlock is needed [INF]"
METADATA_NEEDS_UNLOCK = False
#   settle: `find-generic-password` (no -g/-w) on a locked keychain without a GUI, recorded on a Mac
# §5 "dump-keychain: ... -a needs the keychain unlocked [INF]"
ACL_DUMP_NEEDS_UNLOCK = True
#   settle: `dump-keychain -a` on a locked keychain without a GUI, recorded on a Mac
# §2 dump-keychain: error texts when that unlock fails (whole dump stops with the status) and when one item's
# -d decryption fails (that item's data is skipped, the dump goes on, exit 0) -- both invented
DUMP_UNLOCK_ERROR = "security: SecKeychainItemCopyAccess: {text}"
DUMP_ITEM_DATA_ERROR = "security: SecKeychainItemCopyContent: {text}"
#   settle: keychain_utilities.c's dump path read line by line, or a recorded `dump-keychain -d` with a Deny

# ---------------------------------------------------------------- keychain commands
# §2 delete-keychain with no keychain: SecKeychainDelete(NULL), printed by do_delete's sec_perror [SRC
# keychain_delete.c]; the status it returns, errSecInvalidKeychain (exit 49), is [INF] (spec §2)
#   settle: `security delete-keychain` with no argument, recorded on a Mac
DELETE_KEYCHAIN_NO_ARGS_STATUS = errors.INVALID_KEYCHAIN
# §2 create-keychain -P ("prompt with SecurityAgent"): not described -- treated like no -p, i.e. the
# getpass prompts (behaviour of keychain_commands.create_keychain, not a switch)
# §2 list-keychains: what the system domain holds on a stock Mac, and that the default (no -d) view is
# the user list followed by it [INF]
SYSTEM_KEYCHAIN = "/Library/Keychains/System.keychain"
#   settle: `security list-keychains` on a runner (wifi-password#22 shows the file's path, not the list)
# §2 find/delete with keychains in the search list whose file is gone: skipped (invented)
SKIP_MISSING_SEARCH_KEYCHAINS = True
#   settle: `find-generic-password` with a deleted keychain file still in the search list, recorded on a Mac
# §1 "The login keychain may differ (data-protection path) [UNV]" -- modelled like any other keychain

# ---------------------------------------------------------------- ACL display (dump-keychain -a)
# dump-keychain -a lists SecAccessCopyACLList in the client's handle order (Access::mAcls, a std::map by handle).
# [SRC] securityd keeps an item's ACL entries in a multimap by tag (objectacl.h EntryMap) and, whenever it
# reads the item back (ObjectAcl::importBlob), hands out handles in that order: the untagged standard entries,
# then "___INTEGRITY___", then "___PARTITION___" (cssmapple.h tags); the owner (change_acl) has the pseudo-handle
# 0xff0e2743 (ACL.h ownerHandle) and so comes last.  [UNV] encrypt before decrypt: makeStandard adds the encrypt
# entry first, but the client sends its initial ACL in the order of random per-entry handles (ACL.cpp
# SecRandomCopyBytes), so their relative order on a real Mac is settled only by a real `dump-keychain -a`
# transcript (fixtures/transcripts/macos/, or a public paste of one).
ACL_ENTRY_ORDER = ("encrypt", "decrypt", "integrity", "partition", "owner")
# §3 default ACL: "version 512 only: partition_id ... plus an integrity entry [display INF]"; its description is
# a hex digest (invented: uppercase sha256 of the class, service and label -- deterministic, so recorded
# transcripts replay; the real one covers the item's contents)
INTEGRITY_ENTRY = True
#   settle: a real `dump-keychain -a` of a version-512 item (the digest itself: Item.cpp computeDigest)
# §3 "-U ... The ACL is copied without its partition/integrity entries, and the new partition list = the
# modifier's ID only" -- the integrity entry is modelled as recomputed after the update [INF]
INTEGRITY_AFTER_UPDATE = True
#   settle: `dump-keychain -a` after `add-generic-password -U`, recorded on a Mac


# ---------------------------------------------------------------- code identity
def legacy_hash(path: str) -> str:
    """§3 "unsigned callers are compared by legacy hash": a caller without a cdhash gets one derived
    from its path (invented; a rebuild should pass its own cdhash in KEYCHAIN_SIM_CALLER).
    settle: a real `dump-keychain -a` entry for an unsigned caller (its legacy hash is not printed: the
    simulator's value only has to be stable)."""
    try:
        from _sha1 import sha1
    except ImportError:         # pragma: no cover
        from hashlib import sha1
    return sha1(b"legacy:" + path.encode("utf-8", "surrogateescape")).hexdigest()


def trusted_app_for_path(path: str) -> dict:
    """§3 "-T p (repeatable): trusted = exactly those apps".  securityd reads the DR of the code at p;
    the simulator has no code there, so an app it has no identity for is trusted by path (invented).
    `group://name` entries take the same form.
    settle: a real `dump-keychain -a` after `add-generic-password -T <path of a non-bundle binary>`."""
    return {"path": path, "requirement": None, "hash": ""}

# ---------------------------------------------------------------- the simulator's own limits
# a command of security's table the simulator does not model (import, find-certificate, ...): it says so on
# stderr and fails with 1.  Not macOS behaviour -- a transcript of such a command is not comparable.
NOT_SIMULATED = "security: {name}: not simulated by keychain-sim"
NOT_SIMULATED_STATUS = 1

# ---------------------------------------------------------------- named macOS versions
# KEYCHAIN_SIM_MACOS=14|15|26 (default 26, the newest source the command table is read from).  Version-dependent:
# the `[-h]` at the head of every usage text [SRC SecurityTool/macOS/security.c, command table]: none in any
# macOS 14 tag (Security-61040.1.3 ... 61040.80.10, 61123.100.169 ... 61123.140.15); every macOS 15 tag
# (Security-61439.1.1 ... 61439.140.12) and macOS 26's (61901.0.87) print it -- 20 to 22 rows each.  The older
# pastes held against the simulator (keyring282-add-help 10.12 era, macmounter2-add-usage 10.11) show none.
#   settle: `security add-generic-password` with no arguments, recorded on macOS 14, 15 and 26
MACOS_VERSIONS = ("14", "15", "26")
MACOS_DEFAULT = "26"
USAGE_SHOWS_H = {"14": False, "15": True, "26": True}


def macos() -> str:
    """The macOS version the simulator answers as (KEYCHAIN_SIM_MACOS); an unknown one is the default."""
    import os
    version = os.environ.get("KEYCHAIN_SIM_MACOS", MACOS_DEFAULT)
    return version if version in MACOS_VERSIONS else MACOS_DEFAULT


def usage_text(usage: str) -> str:
    """A command's usage as the modelled version prints it."""
    return usage if USAGE_SHOWS_H[macos()] else usage.replace("[-h] ", "", 1)


# ---------------------------------------------------------------- what Always Allow writes
# acl_keychain.cpp / acls.cpp: "user approved 'always allow'" adds the caller to the access list and its partition
# ID to the partition list ("adding XARA partition '%s' to list": github/copilot-cli#4273, steipete/CodexBar#2115,
# vinzdg/codenotch#72 shows `teamid:` added).  Against it, for `security` on an item Claude.app re-created:
# anthropics/claude-code#62213 ("only adds the calling binary to the application list, not apple-tool: to the
# partition list").  Modelled: the partition ID is added (acl.always_allow).
ALWAYS_ALLOW_ADDS_PARTITION = True
#   settle: on a Mac, an item whose partition list is `teamid:X` only, read by `security -w`, answered Always
#   Allow; then `dump-keychain -a` (is `apple-tool:` in the list?) and a second read (does it prompt?)

# ---------------------------------------------------------------- which item a search returns
# claude-code-router#1601: with two items under one service, `find-generic-password -s S` (no -a) returned the
# `unknown` item.  The simulator returns the item added first (database order) [UNV]; securityd's search order
# over a keychain's records is not documented.
#   settle: two items added in both orders, then `find-generic-password -s S -w`, recorded on a Mac
SEARCH_ORDER = "oldest first"

# ---------------------------------------------------------------- dialog wording (security/dialogs.json)
# SecurityAgent's strings are not in apple-oss-distributions.  Which request a refused read puts to it is [SRC]:
# securityd sends the operation as the hint "acl-tag" (agentquery.cpp QueryKeychainUse::queryUser,
# AGENT_HINT_ACL_TAG); a caller outside the trusted-application list is asked about CSSM_ACL_AUTHORIZATION_DECRYPT,
# one inside it whose partition ID is missing by SecurityServerAcl::extendPartition with
# CSSM_ACL_AUTHORIZATION_PARTITION_ID (acls.cpp).  The sentence SecurityAgent draws for each, per macOS version,
# is the dialog corpus's: security/dialogs.json keeps every public report from 2024 on that quotes one (address,
# date, macOS version, state) and the wording fitted on them; tests/security/test_dialog_corpus.py replays each report's
# state here and compares.  Where reports disagree the disagreement is a probe: DIALOG-WORDING,
# DIALOG-PARTITION-WORDING ("access key" vs "access"), DIALOG-QUOTES (typographic vs straight marks).
#   settle (probe): on a Mac with --real-dialogs, (1) an item made by `security`, partition list set to `teamid:X`
#   only, read by `security -w` -> the SecurityAgent window's text (Accessibility dump); (2) the same item read by
#   a caller outside the access list; (3) a caller outside the list whose partition ID is also missing: one dialog
#   or two, and which sentence first.
DIALOG_WORDING = "security/dialogs.json wording"

# ---------------------------------------------------------------- subcommands next to the article's
# `security error CODE`: cssmErrorString() for a code SecBase.h has no text for -- not in the source tree
# (SecCopyErrorMessageString's fallback); settled by `security error 12345` run on a Mac.
ERROR_TEXT_UNKNOWN = "OSStatus {code}"
# internet password records: attribute types as print_keychain_item_attributes shows them ("atyp" a blob,
# "port" and "ptcl" uint32, a port printed as 4 big-endian bytes) -- the schema is in securityd's
# KeychainCore, not in this tree; settled by a real `find-internet-password` dump.
INET_ATTRIBUTE_TYPES = "formats.INET_TAGS"
# set-keychain-password on a keychain file that does not exist: SecKeychainChangePassword's status taken
# to be errSecNoSuchKeychain (-25294) [INF]
# getopt's complaint about security's own options starts with the process's argv[0] (Libc getopt.c PROGNAME =
# nargv[0]): "security" when called through PATH, "/usr/bin/security" when called by path.  The simulator
# runs behind a wrapper that cannot see how it was called and says "security".
PROGRAM_NAME = "security"
