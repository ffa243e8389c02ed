@cause
Feature: Cause — what binds and what invalidates the grant
  The article: the token is the login keychain item `Claude Code-credentials`, read via
  /usr/bin/security; an Always Allow grant is bound to the requesting binary's code-signing
  identity and is invalidated by Claude Code updates, by re-creation on token refresh, and by
  post-reboot churn.

  Background:
    Given a scratch login keychain with no timeout
    And Claude Code has stored a credential for the current user

  @supports:CAU-ITEM
  Scenario: The credential is a generic password for the current user in the login keychain
    When I run security find-generic-password -s "Claude Code-credentials"
    Then the call succeeds
    And the item is a "genp" in the login keychain
    And its "svce" is "Claude Code-credentials" and its "acct" is the current user

  @supports:CAU-BINDING @gui
  Scenario Outline: A grant follows the requesting binary's signing identity (<change>)
    Given the session has a GUI
    And the credential is read by <signing> app "Helper"
    And the app has read the credential, answering "Always Allow"
    When <change>
    And the app reads the credential, answering "Deny"
    Then <count> item dialogs were shown in all

    Examples:
      | signing        | change                                  | count |
      | a Developer-ID | the app is rebuilt                      | 1     |
      | an ad-hoc      | the app is rebuilt                      | 2     |
      | a Developer-ID | the app is re-signed by another team    | 2     |
      | a Developer-ID | nothing changes                         | 1     |

  @supports:CAU-UPDATE @gui
  Scenario: A Claude Code update invalidates the grant held by security
    Given the session has a GUI
    And the item trusts no application
    And Claude Code is a Developer-ID signed binary
    And Claude Code reads through security, as releases do
    And Claude Code has read the credential, answering "Always Allow"
    When Claude Code is updated to a newly signed build
    And Claude Code reads the credential, answering "Deny"
    Then 2 item dialogs were shown in all

  @refutes:CAU-UPDATE @proposes:CAU-UPDATE @gui
  Scenario: After a Claude Code update security still reads the credential without a dialog
    Given the session has a GUI
    And the item trusts no application
    And Claude Code is a Developer-ID signed binary
    And Claude Code reads through security, as releases do
    And Claude Code has read the credential, answering "Always Allow"
    When Claude Code is updated to a newly signed build
    And Claude Code reads the credential, answering "Deny"
    Then 1 item dialog was shown in all

  @supports:CAU-REFRESH @gui
  Scenario: A token refresh written the way releases write it re-creates the item
    Given the session has a GUI
    And the item trusts no application
    And Claude Code has read the credential, answering "Always Allow"
    When Claude Code refreshes the token
    Then the item's creation date changed
    And Claude Code reads the credential, answering "Deny"
    And 2 item dialogs were shown in all

  @refutes:CAU-REFRESH @gui @proposes:CAU-REFRESH
  Scenario: A token refresh updates the item in place and keeps the grant held by security
    Given the session has a GUI
    And the item trusts no application
    And Claude Code has read the credential, answering "Always Allow"
    When Claude Code refreshes the token
    Then the item's creation date is unchanged and its modification date is not earlier
    And the item's partition list is "apple-tool:"
    And Claude Code reads the credential, answering "Deny"
    And 1 item dialog was shown in all
    And the read returned the refreshed credential byte for byte

  @supports:CAU-BURST @gui
  Scenario: A relock right after boot racing a refresh gives a burst that a clean refresh ends
    Given the session has a GUI
    When the machine restarts and the login keychain is unlocked at login
    And Claude Code reads the credential 3 times while refreshing the token
    Then 3 item dialogs were shown

  @refutes:CAU-BURST @gui @proposes:CAU-BURST
  Scenario: After a restart the only prompts are unlock prompts, and unlocking ends them
    Given the session has a GUI
    When the machine restarts
    And Claude Code reads the credential 3 times, answering "Cancel" to the unlock dialog
    Then 3 unlock dialogs were shown
    And 0 item dialogs were shown
    When Claude Code reads the credential, answering "OK" to the unlock dialog
    And Claude Code reads the credential 3 times, answering "Cancel" to the unlock dialog
    Then 4 unlock dialogs were shown in all
    And the read returned the stored credential byte for byte
