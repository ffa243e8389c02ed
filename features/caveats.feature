@caveats
Feature: Caveats of the file bypass

  @supports:CAV-REWRITE
  Scenario: A later keychain write by Claude Code re-creates the item next to the file
    Given a scratch login keychain with no timeout
    And Claude Code has stored a credential for the current user
    And ~/.claude exists
    And I have followed the article's file-bypass recipe
    When Claude Code refreshes the token
    Then the item exists again
    And ~/.claude/.credentials.json still holds the credential from before the refresh

  @supports:CAV-GUI-UNDOCUMENTED
  Scenario: Whether a GUI session uses the file fallback
    Then the claim cannot be checked here: "the simulator has no GUI session of Claude Code; the release scenarios (features/release.feature) show what the code does"

  @supports:CAV-OAUTH-ENV
  Scenario: CLAUDE_CODE_OAUTH_TOKEN and the stored credentials
    Then the claim is checked by the release scenarios: "With CLAUDE_CODE_OAUTH_TOKEN set, claude -p deletes the stored credentials on exit"
