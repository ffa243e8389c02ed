@caveats
Feature: Caveats of the file bypass

  @supports:CAV-REWRITE
  Scenario: A later keychain write by Claude Code after the bypass
    Then the claim is checked by the release scenarios: "After the bypass recipe, the release's next token refresh writes the item back and deletes ~/.claude/.credentials.json"

  @supports:CAV-GUI-UNDOCUMENTED
  Scenario: Whether a GUI session uses the file fallback
    Then the claim cannot be checked here: "the simulator has no GUI session of Claude Code; the release scenarios (features/release.feature) show what the code does"

  @supports:CAV-OAUTH-ENV
  Scenario: CLAUDE_CODE_OAUTH_TOKEN and the stored credentials
    Then the claim is checked by the release scenarios: "With CLAUDE_CODE_OAUTH_TOKEN set, claude -p deletes the stored credentials on exit"
