@field
Feature: Field — what brings the prompt back according to public reports, and what the article misses
  Causes users and third-party tools report for `Claude Code-credentials` that the article does not name
  (ledger `omissions:`).  Each scenario builds the state a report describes and shows what the keychain
  then does: which item a command touches, which dialog appears, how many.

  Background:
    Given a scratch login keychain with no timeout

  @supports:OMI-SEVERAL-ITEMS @proposes:OMI-SEVERAL-ITEMS
  Scenario: With an MCP item stored first, the article's bypass copies the MCP item and deletes it
    Given Claude Code's MCP OAuth state is stored under the same service for account "unknown"
    And Claude Code has stored a credential for the current user
    And ~/.claude exists
    When I type the article's commands:
      """
      security find-generic-password -s "Claude Code-credentials" -w > ~/.claude/.credentials.json
      chmod 600 ~/.claude/.credentials.json
      security delete-generic-password -s "Claude Code-credentials"
      """
    Then every command succeeds
    And ~/.claude/.credentials.json holds the MCP OAuth state, not the credential
    And the item for account "unknown" no longer exists
    And the item for the current user still exists

  @supports:OMI-SEVERAL-ITEMS
  Scenario: With two items under the service, the article's reset deletes one of them
    Given Claude Code has stored a credential for the current user
    And Claude Code's MCP OAuth state is stored under the same service for account "unknown"
    When I type the article's command:
      """
      security delete-generic-password -s "Claude Code-credentials"
      """
    Then every command succeeds
    And the item for the current user no longer exists
    And the item for account "unknown" still exists

  @supports:OMI-CONFIG-DIR-ITEMS @gui @proposes:OMI-CONFIG-DIR-ITEMS
  Scenario: Two configuration directories make two items, each with its own first dialog
    Given the session has a GUI
    And Claude Code has stored a credential under the configuration directory "~/work-a/.claude"
    And Claude Code has stored a credential under the configuration directory "~/work-b/.claude"
    And the credential is read by a Developer-ID app "Usagebar"
    When the app reads every Claude Code item, answering "Always Allow"
    And the app reads every Claude Code item, answering "Always Allow"
    Then 2 item dialogs were shown in all
    And the keychain holds 2 items whose service starts with "Claude Code-credentials-"
    When I type the command:
      """
      security find-generic-password -s "Claude Code-credentials" -w
      """
    Then the terminal shows "The specified item could not be found in the keychain."

  @supports:OMI-CO-WRITER @supports:SYM-RETURNS @gui @proposes:OMI-CO-WRITER
  Scenario: A framework writer re-creates the item and security's next read asks again
    The writer's item as #81707 shows it: `security` still in the access list, partition list
    `teamid:NKUJUXUJ3B` only.  `security` is then refused by the partition check alone.
    Given the session has a GUI
    And Claude Code has stored a credential for the current user
    And Claude Code has read the credential, answering "Always Allow"
    When 2 seconds pass
    And the framework writer "Claude" of team "NKUJUXUJ3B" re-creates the item with SecItemDelete and SecItemAdd
    Then the item's partition list is "teamid:NKUJUXUJ3B"
    And the item's creation date changed
    When Claude Code reads the credential, answering "Always Allow"
    Then 1 item dialog was shown in all
    And the dialog says "security" wants to access key "Claude Code-credentials" in the "login" keychain
    And the item's partition list is "teamid:NKUJUXUJ3B, apple-tool:"
    When the framework writer "Claude" of team "NKUJUXUJ3B" re-creates the item with SecItemDelete and SecItemAdd
    And Claude Code reads the credential, answering "Always Allow"
    Then 2 item dialogs were shown in all

  @supports:OMI-PARTITION-RESET @gui @proposes:OMI-PARTITION-RESET
  Scenario: A refresh by security drops a third-party reader's partition, and the reader is asked again
    Given the session has a GUI
    And Claude Code has stored a credential for the current user
    And the credential is read by a Developer-ID app "Usagebar"
    And the app has read the credential, answering "Always Allow"
    And the item's partition list is "apple-tool:, teamid:Q6L2SF6YDW"
    When Claude Code refreshes the token
    Then the item's partition list is "apple-tool:"
    And the item's access list still trusts "usagebar"
    When the app reads the credential, answering "Always Allow"
    Then 2 item dialogs were shown in all

  @supports:OMI-PARTITION-RESET @gui
  Scenario: The reader's first dialog asks about its information, the one after a refresh about the key
    The reader is in the access list after Always Allow; the refresh removed only its partition ID, so the
    second refusal is the partition check's (steipete/CodexBar#367, akitaonrails/ai-usagebar#148).
    Given the session has a GUI
    And Claude Code has stored a credential for the current user
    And the credential is read by a Developer-ID app "Usagebar"
    When the app reads the credential, answering "Always Allow"
    Then the dialog says "usagebar" wants to use your confidential information stored in "Claude Code-credentials" in the "login" keychain
    When Claude Code refreshes the token
    And the app reads the credential, answering "Always Allow"
    Then the dialog says "usagebar" wants to access key "Claude Code-credentials" in the "login" keychain

  @supports:OMI-CONCURRENT @gui @proposes:OMI-CONCURRENT
  Scenario Outline: <count> processes reading at once raise <count> dialogs, one each
    Each refused process asks securityd on its own; none waits for another's answer.  Answered "Deny": with
    "Always Allow" the count depends on whether a process asks before the first answer is written, and an
    emulated "Allow" (grant, read, restore) overlaps the other reads' checks: neither is a stable check.
    Given the session has a GUI
    And Claude Code has stored a credential for the current user
    And another writer left the item's partition list at "teamid:NKUJUXUJ3B"
    When <count> processes read the credential at once, answering "<choice>"
    Then each of the <count> reads waited on a dialog of its own

    Examples:
      | count | choice       |
      | 3     | Deny         |
      | 6     | Deny         |
