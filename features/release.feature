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
  Scenario: The release reads the credential with the security a stock Mac resolves to /usr/bin/security
    The article says which binary reads.  A release that names `security` (resolved through PATH) or
    `/usr/bin/security` reaches /usr/bin/security on a stock Mac: macOS ships `security` in /usr/bin only, and
    the item's ACL on a real Mac names /usr/bin/security (field-reports.md).  A `security` earlier on PATH
    would be used instead (anthropics/claude-code#88024): a note, not a contradiction.
    Given Claude Code has stored a credential for the current user
    When the release reads the stored credential
    Then the release reports it is logged in
    And the release called security "find-generic-password -a <user> -w -s Claude Code-credentials"
    And the release's "spawn" fingerprint is one of "/usr/bin/security (absolute path)", "security (resolved through PATH)"

  @supports:CAU-READER @supports:CAU-ITEM @supports:SYM-LOGIN-WORKS
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

  @refutes:CAV-OAUTH-ENV @proposes:CAV-OAUTH-ENV
  Scenario: With CLAUDE_CODE_OAUTH_TOKEN set, claude -p leaves the stored credentials in place
    Given Claude Code has stored a credential for the current user
    And ~/.claude/.credentials.json already holds an older credential
    When I run the release with "-p ping" and CLAUDE_CODE_OAUTH_TOKEN set
    Then the release exits 0
    And the item exists again
    And ~/.claude/.credentials.json still holds the credential from before the refresh

  @supports:FIX-RESET-COST
  Scenario: After the article's delete the release is logged out until it logs in again
    Given Claude Code has stored a credential for the current user
    When I type the article's command:
      """
      security delete-generic-password -s "Claude Code-credentials"
      """
    And the release reads the stored credential
    Then the release reports it is not logged in

  @supports:FIX-FILE-FALLBACK @proposes:FIX-FILE-FALLBACK
  Scenario: With no keychain item, the release reads ~/.claude/.credentials.json
    Given ~/.claude/.credentials.json already holds an older credential
    When the release reads the stored credential
    Then the release reports it is logged in
    And the release called security "find-generic-password -a <user> -w -s Claude Code-credentials"

  @supports:FIX-FILE-FALLBACK
  Scenario: In an SSH session the release uses the file's credential, not the keychain item's
    What an SSH session is for the keychain: no GUI (no SecurityAgent) and the login keychain locked (it is
    unlocked by a GUI login, not by sshd; anthropics/claude-code#9403).  Item and file both hold a credential.
    Given Claude Code has stored a credential for the current user
    And ~/.claude/.credentials.json already holds an older credential
    And the release has made a model request in the plain session
    When the session is an SSH session: no GUI, the login keychain locked
    And the release makes a model request
    Then the model request carried the file's credential, not the keychain item's

  @refutes:FIX-FILE-FALLBACK-TMUX @proposes:FIX-FILE-FALLBACK-TMUX
  Scenario: In tmux on the Mac's own login session the release uses the keychain item, not the file
    tmux started in a GUI login: the login keychain is unlocked and tmux only sets TMUX/TMUX_PANE.
    Given Claude Code has stored a credential for the current user
    And ~/.claude/.credentials.json already holds an older credential
    And the release has made a model request in the plain session
    When the session is a tmux session of the GUI login
    And the release makes a model request
    Then the model request carried the keychain item's credential, not the file's

  @supports:REL-CONFIG
  Scenario: The release keeps its configuration in ~/.claude.json
    When I run the release with "-p ping" and CLAUDE_CODE_OAUTH_TOKEN set
    Then ~/.claude.json exists
    And the release exits 0

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

  @refutes:CAU-REFRESH @supports:CAV-REWRITE @gui @proposes:CAU-REFRESH
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

  @supports:FIX-FILE-FALLBACK @proposes:FIX-FILE-FALLBACK
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

  @refutes:FIX-FILE-NO-PROMPTS @supports:CAV-REWRITE @proposes:FIX-FILE-NO-PROMPTS
  Scenario: After the bypass recipe, the release's next token refresh writes the item back and deletes ~/.claude/.credentials.json
    The recipe leaves the credential in the file and no item.  The release reads the file, refreshes the
    expired token, and its store writes the keychain first: the write succeeds, and the store deletes the
    plaintext file because the keychain had been empty (2.1.81's fallback store: `if(_===null)q.delete()`).
    From then on every read goes to the keychain again: the bypass lasts until the next refresh.
    Given Claude Code has stored an expired credential for the current user
    And ~/.claude exists
    And I have followed the article's file-bypass recipe
    When the release refreshes the token with "-p ping"
    Then there was no item when the release started
    And the token request arrived at the stand-in with the stored refresh token
    And the item holds the refreshed token
    And ~/.claude/.credentials.json no longer exists
