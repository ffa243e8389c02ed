@symptom
Feature: Symptom — a keychain prompt for Claude Code's credential that keeps coming back
  The article: a dialog "security wants to access key "Claude Code-credentials" in your
  keychain" asks for the login keychain password, comes back even after Always Allow,
  while login itself still works.

  Background:
    Given a scratch login keychain with no timeout
    And Claude Code has stored a credential for the current user

  @supports:SYM-DIALOG @supports:SYM-DIALOG-PASSWORD @gui
  Scenario: The prompt is raised for security, names the item and asks for the login keychain password
    The state the field reports behind this sentence: `security` still trusted by the item's access list,
    its partition `apple-tool:` gone (anthropics/claude-code#81707, #67315); the sentence for it is the
    partition prompt's (securityd extendPartition, CSSM_ACL_AUTHORIZATION_PARTITION_ID).
    Given the session has a GUI
    And another writer left the item's partition list at "teamid:NKUJUXUJ3B"
    When Claude Code reads the credential, answering "Allow"
    Then 1 item dialog was shown
    And the dialog says "security" wants to access key "Claude Code-credentials" in the "login" keychain
    And the dialog offers "Always Allow", "Deny" and "Allow"
    And the dialog asked for the keychain password before allowing

  @supports:SYM-RETURNS @supports:TRI-CONCLUSION @gui
  Scenario Outline: After Always Allow the prompt comes back when <invalidation>
    Given the session has a GUI
    And the credential is read by <signing> app "Helper"
    And the app has read the credential, answering "Always Allow"
    When <invalidation>
    And the app reads the credential, answering "Always Allow"
    Then 2 item dialogs were shown in all
    And no unlock dialog was shown

    Examples:
      | signing      | invalidation                               |
      | an ad-hoc    | the app is rebuilt                         |
      | a Developer-ID | another application rewrites the item    |

  @supports:SYM-LOGIN-WORKS @gui
  Scenario: Once allowed, the credential is read intact
    Given the session has a GUI
    And the item trusts no application
    When Claude Code reads the credential, answering "Allow"
    Then the read succeeds
    And the read returned the stored credential byte for byte

  @supports:SYM-DISTINCT
  Scenario: A corrupt credential fails login without any prompt
    Given the stored credential is corrupt
    When Claude Code reads the credential, answering "Deny"
    Then the read succeeds
    And no keychain prompt was raised
    And what was read is not a usable credential
