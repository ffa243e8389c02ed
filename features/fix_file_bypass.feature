@fix_file_bypass
Feature: Fix — bypass the keychain: move the token to ~/.claude/.credentials.json
  The article's three commands, typed as written.  Besides what the article promises, the
  recipe's hazards are checked and recorded as findings in the ledger.

  Background:
    Given a scratch login keychain with no timeout
    And the session has a GUI
    And my umask is 022

  @supports:FIX-FILE-TOKEN @supports:FIX-FILE-MODE @supports:FIX-FILE-DELETE @supports:FIX-FILE-NO-ECHO @supports:CAV-PLAINTEXT
  Scenario: The three commands move the token into a mode-600 file and delete the item
    Given Claude Code has stored a credential for the current user
    And ~/.claude exists
    When I type the article's commands:
      """
      security find-generic-password -s "Claude Code-credentials" -w > ~/.claude/.credentials.json
      chmod 600 ~/.claude/.credentials.json
      security delete-generic-password -s "Claude Code-credentials"
      """
    Then every command succeeds
    And ~/.claude/.credentials.json holds the stored credential byte for byte as valid JSON
    And ~/.claude/.credentials.json has mode 600
    And the item no longer exists
    And the terminal shows no part of the credential
    And no keychain prompt was raised
    And the credential is plaintext at rest in ~/.claude/.credentials.json

  @supports:FIX-FILE-SAFE
  Scenario: The file is never readable by another local user while the recipe runs
    The redirect creates the file with the umask's mode before `chmod 600` runs.  Whether another user can
    read it then depends on the folders above it: a macOS home folder is 750 (group staff: every local
    user), and releases create ~/.claude with a plain mkdir, no mode (0755 under umask 022: 2.1.81
    `mkdirSync(q)`, 2.1.332 `mkdir(n)`).  A ~/.claude at 700 would hide the window.
    Given Claude Code has stored a credential for the current user
    And my home folder has mode 750
    And ~/.claude exists with mode 755
    When I type the article's command:
      """
      security find-generic-password -s "Claude Code-credentials" -w > ~/.claude/.credentials.json
      """
    Then ~/.claude/.credentials.json is not readable by another local user

  @supports:FIX-FILE-SAFE @gui
  Scenario Outline: A failed read leaves the stored credential alone (<failure>)
    Given Claude Code has stored a credential for the current user
    And ~/.claude/.credentials.json already holds an older credential
    And <failure>
    When I type the article's commands, answering "Deny":
      """
      security find-generic-password -s "Claude Code-credentials" -w > ~/.claude/.credentials.json
      chmod 600 ~/.claude/.credentials.json
      security delete-generic-password -s "Claude Code-credentials"
      """
    Then no credential was lost

    Examples:
      | failure                              |
      | the item trusts no application       |
      | the item does not exist              |

  @supports:FIX-FILE-SAFE
  Scenario: A read that fails on a locked keychain leaves the item, because the delete fails too
    Given Claude Code has stored a credential for the current user
    And ~/.claude/.credentials.json already holds an older credential
    And the session has no GUI and the login keychain is locked
    When I type the article's commands:
      """
      security find-generic-password -s "Claude Code-credentials" -w > ~/.claude/.credentials.json
      chmod 600 ~/.claude/.credentials.json
      security delete-generic-password -s "Claude Code-credentials"
      """
    Then no credential was lost
    And ~/.claude/.credentials.json holds 0 bytes

  @supports:FIX-FILE-SAFE
  Scenario: The recipe works on a machine where ~/.claude does not exist
    Given Claude Code has stored a credential for the current user
    And ~/.claude does not exist
    When I type the article's commands:
      """
      security find-generic-password -s "Claude Code-credentials" -w > ~/.claude/.credentials.json
      chmod 600 ~/.claude/.credentials.json
      security delete-generic-password -s "Claude Code-credentials"
      """
    Then no credential was lost

  @supports:FIX-FILE-SAFE
  Scenario: The recipe finds the item when CLAUDE_CONFIG_DIR is set
    Given CLAUDE_CONFIG_DIR is set to "~/.config/claude"
    And Claude Code has stored a credential for the current user
    And ~/.claude exists
    When I type the article's commands:
      """
      security find-generic-password -s "Claude Code-credentials" -w > ~/.claude/.credentials.json
      chmod 600 ~/.claude/.credentials.json
      security delete-generic-password -s "Claude Code-credentials"
      """
    Then ~/.claude/.credentials.json holds the stored credential byte for byte as valid JSON

  @proposes:FIX-FILE-SAFE
  Scenario: The proposed recipe moves the token into a private file and then deletes the item
    Given Claude Code has stored a credential for the current user
    And ~/.claude does not exist
    When I type the command:
      """
      mkdir -p ~/.claude
      (umask 077; security find-generic-password -s "Claude Code-credentials" -a "$USER" -w > ~/.claude/.credentials.json.new) && mv ~/.claude/.credentials.json.new ~/.claude/.credentials.json && security delete-generic-password -s "Claude Code-credentials" -a "$USER"
      """
    Then ~/.claude/.credentials.json holds the stored credential byte for byte as valid JSON
    And ~/.claude/.credentials.json has mode 600
    And the item no longer exists
    And the terminal shows no part of the credential

  @proposes:FIX-FILE-SAFE @gui
  Scenario Outline: With the proposed recipe a failed read leaves the stored credential alone (<failure>)
    Given Claude Code has stored a credential for the current user
    And ~/.claude/.credentials.json already holds an older credential
    And <failure>
    When I type the command:
      """
      mkdir -p ~/.claude
      (umask 077; security find-generic-password -s "Claude Code-credentials" -a "$USER" -w > ~/.claude/.credentials.json.new) && mv ~/.claude/.credentials.json.new ~/.claude/.credentials.json && security delete-generic-password -s "Claude Code-credentials" -a "$USER"
      """
    Then no credential was lost

    Examples:
      | failure                              |
      | the item trusts no application       |
      | the item does not exist              |
      | the session has no GUI and the login keychain is locked |

  @supports:NOTE-REDIRECT
  Scenario: Without the redirect, -w prints the token on the terminal
    Given Claude Code has stored a credential for the current user
    When I type the command:
      """
      security find-generic-password -s "Claude Code-credentials" -w
      """
    Then every command succeeds
    And the terminal shows the credential
