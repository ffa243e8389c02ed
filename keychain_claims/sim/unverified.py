"""Everything the simulator does that the spec marks [UNV] or [INF], or that had to be
invented.  One place, so a real-Mac transcript (fixtures/transcripts/macos/) can correct it.
Each constant cites the line of shared/reference/security-cli.md it stands for."""

from . import errors

# §2 find-generic-password: "128: cancel/Deny [UNV; jaraco/keyring treats -128 as denied]"
DENY_STATUS = errors.USER_CANCELED
# §3 Dialog: wrong password typed DIALOG_TRIES times in the access dialog (invented: the real dialog shakes)
DIALOG_GAVE_UP_STATUS = errors.AUTH_FAILED
# §3 "Whether -U prompts on another app's item: [UNV]" -- modelled as: it does not
UPDATE_CHECKS_ACL = False
# §2 delete-generic-password: deleting needs the keychain unlocked; an ACL check on delete is [UNV] -- none
DELETE_CHECKS_ACL = False
# §2 find-generic-password: "Attributes are read without securityd decryption, so probably no unlock is needed [INF]"
METADATA_NEEDS_UNLOCK = False
# §2 delete-keychain: "No args -> exit 49 [INF]"
DELETE_KEYCHAIN_NO_ARGS_STATUS = 49
# §2 dump-keychain: "-a needs the keychain unlocked [INF]"
ACL_DUMP_NEEDS_UNLOCK = True
# §2 list-keychains: what the system and common domains hold on a stock Mac [INF]
SYSTEM_KEYCHAIN = "/Library/Keychains/System.keychain"
# §3 -T <path> for a program the simulator has no identity for: trusted by path (legacy hash) [INF]
UNKNOWN_APP_REQUIREMENT = None
# §3 the item access dialog's exact wording is [UNV]: texts live in keychain_claims/prompts.py
# §1 "The login keychain may differ (data-protection path)" [UNV] -- modelled like any other keychain
# §2 "Entry count, order and requirement text were not checked on a Mac [3P/UNV]" -- formats.acl_lines
