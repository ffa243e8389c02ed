@release @field
Feature: Field causes with real Claude Code releases
  What a release's own code does with the several items and the per-directory items the field reports.
  Each scenario runs once per release given with --claude-code.

  Background:
    Given a scratch login keychain with no timeout

  @supports:OMI-SEVERAL-ITEMS @proposes:OMI-SEVERAL-ITEMS
  Scenario: Both items under the service outlive a release's refresh; the release names its own account
    The release is not the writer of the `unknown` item (it writes `-a <user>`); the item stays beside the
    credential, where the article's `-s`-only recipes pick by order.
    Given Claude Code's MCP OAuth state is stored under the same service for account "unknown"
    And Claude Code has stored an expired credential for the current user
    When the release refreshes the token with "-p ping"
    Then the token request arrived at the stand-in with the stored refresh token
    And every security call of the release names the account of the current user
    And the item for account "unknown" still holds the MCP OAuth state

  @supports:OMI-CONFIG-DIR-ITEMS @proposes:OMI-CONFIG-DIR-ITEMS
  Scenario: A release run under two configuration directories reads two items, one per directory
    Given Claude Code has stored a credential under the configuration directory "~/work-a/.claude"
    And Claude Code has stored a credential under the configuration directory "~/work-b/.claude"
    When I run the release with "auth status --json" under each configuration directory
    Then the release read the item of each configuration directory

  @supports:OMI-CONFIG-DIR-ITEMS
  Scenario: A release started from two working directories uses one item
    The runner starts a release in the sandbox's HOME only, so the working directory is read from the
    release's code: the function that names the item hashes the configuration directory.
    Then the release's keychain service name hashes the configuration directory and not the working directory
