@triage
Feature: Triage — two non-destructive commands that raise no prompt
  The article: `security find-generic-password -l … | grep -E "svce|acct"` confirms the item
  exists (metadata only; no secret read), and `security show-keychain-info` on the login
  keychain reports "no-timeout" when it won't relock.

  @supports:TRI-METADATA @supports:TRI-NO-PROMPT
  Scenario Outline: The item lookup shows service and account, never the secret, and raises no prompt (<context>)
    Given a scratch login keychain with no timeout
    And the session <context>
    And Claude Code has stored a credential for the current user
    And the item trusts no application
    When I type the article's command:
      """
      security find-generic-password -l "Claude Code-credentials" | grep -E "svce|acct"
      """
    Then every command succeeds
    And the terminal shows the line '    "svce"<blob>="Claude Code-credentials"'
    And the terminal shows the current user as "acct"
    And the terminal shows no part of the credential
    And no keychain prompt was raised
    And the stored credential is unchanged

    Examples:
      | context     |
      | has a GUI   |
      | has no GUI  |

  @supports:TRI-INFO @supports:TRI-NO-PROMPT @supports:TRI-NO-RELOCK @supports:CAU-NOT-TIMEOUT
  Scenario Outline: show-keychain-info reports <report> and the keychain <relock> as time passes
    Given a scratch login keychain with <settings>
    And the session has a GUI
    And Claude Code has stored a credential for the current user
    And the item trusts no application
    When I type the article's command:
      """
      security show-keychain-info ~/Library/Keychains/login.keychain-db
      """
    Then every command succeeds
    And the terminal shows the keychain info line for the login keychain with "<report>"
    And no keychain prompt was raised
    When 6 seconds pass
    Then the login keychain <relock>

    Examples:
      | settings           | report      | relock          |
      | no timeout         | no-timeout  | is unlocked     |
      | a 5 second timeout | timeout=5s  | is locked       |

  @supports:TRI-CONCLUSION @gui
  Scenario: On a no-timeout keychain a prompt that comes back is an item prompt, not an unlock prompt
    Given a scratch login keychain with no timeout
    And the session has a GUI
    And Claude Code has stored a credential for the current user
    And the item trusts no application
    When 2 hours pass
    And Claude Code reads the credential, answering "Allow"
    And Claude Code reads the credential, answering "Allow"
    Then 2 item dialogs were shown
    And no unlock dialog was shown

  @refutes:TRI-NO-PROMPT @proposes:TRI-NO-PROMPT @gui
  Scenario: show-keychain-info on a locked login keychain asks to unlock it
    securityd's KeychainDatabase::getParameters calls makeUnlocked() before it answers (Security,
    securityd/src/kcdatabase.cpp); Claude Code's own lock check runs `security show-keychain-info` and
    takes exit 36 (no UI allowed) for "locked" (2.1.81 cli.js, 2.1.332).  A login keychain is locked after
    a timeout, after sleep with lock-on-sleep, and in an SSH session: the states this triage is meant to tell.
    Given a scratch login keychain with no timeout
    And the session has a GUI
    And Claude Code has stored a credential for the current user
    And the login keychain is locked
    When I run the article's show-keychain-info on the login keychain
    Then 1 unlock dialog was shown

  @refutes:TRI-NO-RELOCK @refutes:TRI-CONCLUSION @proposes:TRI-NO-RELOCK @proposes:TRI-CONCLUSION @gui
  Scenario: A keychain reported as no-timeout but set to lock when sleeping relocks when the Mac sleeps
    show-keychain-info prints "lock-on-sleep" on the same line as "no-timeout"; securityd locks such a
    keychain at every sleep (KeychainDbCommon::sleepProcessing: `if (mParams.lockOnSleep) lockDb()`).
    "Lock when sleeping" is a Keychain Access setting; new keychains get it by default.
    Given a scratch login keychain with no timeout
    And the login keychain is set to lock when sleeping
    And the session has a GUI
    And Claude Code has stored a credential for the current user
    When I type the article's command:
      """
      security show-keychain-info ~/Library/Keychains/login.keychain-db
      """
    Then the terminal shows the keychain info line for the login keychain with "no-timeout"
    When the Mac sleeps
    And Claude Code reads the credential, answering "OK" to the unlock dialog
    Then 1 unlock dialog was shown
    And 0 item dialogs were shown
