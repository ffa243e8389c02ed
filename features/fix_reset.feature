@fix_reset
Feature: Fix — reset the credential: delete the item, log in again

  Background:
    Given a scratch login keychain with no timeout
    And the session has a GUI
    And Claude Code has stored a credential for the current user

  @supports:FIX-RESET-DELETE @supports:FIX-RESET-COST
  Scenario: The delete removes the item and costs exactly one login
    When I type the article's command:
      """
      security delete-generic-password -s "Claude Code-credentials"
      """
    Then every command succeeds
    And the terminal shows "password has been deleted."
    And the terminal shows no part of the credential
    And the item no longer exists
    When Claude Code reads the credential
    Then the read finds no item
    When Claude Code logs in again
    And Claude Code reads the credential
    Then the read returned the stored credential byte for byte
    And no keychain prompt was raised

  @refutes:FIX-RESET-REBIND @proposes:FIX-RESET-REBIND @gui
  Scenario: A re-created item has a fresh ACL bound to security again, not to the current Claude Code binary
    The article's "current binary" is the updated Claude Code (the fix is for prompts that return "after
    updates").  The fresh ACL trusts its creator, `security`, the same binary the old one trusted; grants
    to other apps are gone.
    Given the credential is read by a Developer-ID app "Helper"
    And the app has read the credential, answering "Always Allow"
    And the item's access list trusts "Helper"
    When I type the article's command:
      """
      security delete-generic-password -s "Claude Code-credentials"
      """
    And Claude Code logs in again
    Then the item's access list trusts only "security"
    And the app reads the credential, answering "Deny"
    And 2 item dialogs were shown in all
