@release
Feature: Real Claude Code releases against the article
  Each scenario runs once per release given with --claude-code.  Every release runs on its macOS
  code path and talks to the sandbox's `security`: JavaScript releases under node, native ones
  as their darwin build's JavaScript in the host runtime.  A release reads its credential before
  every model request (`-p ping` against the Messages stand-in); `auth status` and `auth logout`
  are used where the release's code defines them.  Without --claude-code these scenarios skip.

  Background:
    Given a scratch login keychain with no timeout

  @supports:CAU-READER
  Scenario: The release reads the credential via /usr/bin/security
    Then the release's "spawn" fingerprint is "/usr/bin/security (absolute path)"

  @supports:CAU-READER @supports:CAU-ITEM
  Scenario: A read by the release asks for Claude Code-credentials for the current user through the security on PATH
    Given Claude Code has stored a credential for the current user
    When the release reads the stored credential
    Then the release reports it is logged in
    And the release called security "find-generic-password -a <user> -w -s Claude Code-credentials"

  @supports:CAV-OAUTH-ENV
  Scenario: With CLAUDE_CODE_OAUTH_TOKEN set, claude -p deletes the stored credentials on exit
    Given Claude Code has stored a credential for the current user
    When I run the release with "-p ping" and CLAUDE_CODE_OAUTH_TOKEN set
    Then the release exits 0
    And the item no longer exists

  @refutes:CAV-OAUTH-ENV
  Scenario: With CLAUDE_CODE_OAUTH_TOKEN set, claude -p leaves the stored credentials in place
    Given Claude Code has stored a credential for the current user
    And ~/.claude/.credentials.json already holds an older credential
    When I run the release with "-p ping" and CLAUDE_CODE_OAUTH_TOKEN set
    Then the release exits 0
    And the item exists again
    And ~/.claude/.credentials.json still holds the credential from before the refresh

  @supports:FIX-FILE-FALLBACK
  Scenario: With no keychain item, the release reads ~/.claude/.credentials.json
    Given ~/.claude/.credentials.json already holds an older credential
    When the release reads the stored credential
    Then the release reports it is logged in
    And the release called security "find-generic-password -a <user> -w -s Claude Code-credentials"

  @supports:FIX-FILE-FALLBACK
  Scenario: The file fallback is chosen for non-GUI contexts such as SSH and tmux
    Given Claude Code has stored a credential for the current user
    And ~/.claude/.credentials.json already holds an older credential
    When the release makes a model request in an SSH session inside tmux
    Then the model request carried the file's credential, not the keychain item's

  @supports:REL-CONFIG
  Scenario: The release keeps its configuration in ~/.claude.json
    When I run the release with "-p ping" and CLAUDE_CODE_OAUTH_TOKEN set
    Then the release exits 0
    Then ~/.claude.json exists

  @refutes:CAU-REFRESH @supports:CAV-REWRITE
  Scenario: The release writes the token with add-generic-password -U, in place
    Then the release's "write" fingerprint starts with "add-generic-password -U (update in place)"

  @supports:CAU-ITEM
  Scenario: auth logout deletes Claude Code-credentials
    Given Claude Code has stored a credential for the current user
    When I run the release with "auth logout"
    Then the release exits 0
    And the item no longer exists

  @refutes:FIX-FILE-SAFE
  Scenario: With CLAUDE_CONFIG_DIR set the release's item name carries the config-dir hash
    Given CLAUDE_CONFIG_DIR is set to "~/.config/claude"
    And Claude Code has stored a credential for the current user
    When the release reads the stored credential
    Then the release reports it is logged in
    And the release called security "find-generic-password -a <user> -w -s <service>"

  @refutes:CAU-REFRESH @supports:CAV-REWRITE @gui
  Scenario: A token refresh by the release updates the item in place and keeps the grant held by security
    Given the session has a GUI
    And Claude Code has stored an expired credential for the current user
    And the item trusts no application
    And Claude Code has read the credential, answering "Always Allow"
    When the release refreshes the token with "-p ping"
    Then the token request arrived at the stand-in with the stored refresh token
    And the release wrote the credential with "add-generic-password -U"
    And the item's creation date is unchanged and its modification date is not earlier
    And the item's partition list is "apple-tool:"
    And the release raised no keychain prompt
    And the items the release made besides the credential are listed
    And Claude Code reads the credential, answering "Deny"
    And 1 item dialog was shown in all
    And the read returned the refreshed token

  @supports:FIX-FILE-FALLBACK
  Scenario: Without a GUI and with the login keychain locked, a refreshed token the keychain cannot take goes to ~/.claude/.credentials.json
    Given Claude Code has stored an expired credential for the current user
    And ~/.claude/.credentials.json holds the stored credential
    And the session has no GUI and the login keychain is locked
    When the release refreshes the token with "-p ping"
    Then the token request arrived at the stand-in with the stored refresh token
    And the release tried to write the credential with "add-generic-password -U"
    And what the release did with the refreshed token is reported
    And ~/.claude/.credentials.json holds the refreshed token
    And ~/.claude/.credentials.json has mode 600

  @supports:FIX-FILE-FALLBACK
  Scenario: Without a GUI, a refreshed token the keychain refuses to take goes to ~/.claude/.credentials.json
    Given Claude Code has stored an expired credential for the current user
    And the session has no GUI and the default keychain is another keychain, which is locked
    When the release refreshes the token with "-p ping"
    Then the token request arrived at the stand-in with the stored refresh token
    And the release tried to write the credential with "add-generic-password -U"
    And what the release did with the refreshed token is reported
    And ~/.claude/.credentials.json holds the refreshed token
    And ~/.claude/.credentials.json has mode 600
