@fix_burst
Feature: Fix — a one-off burst: Always Allow (not Allow) once a clean refresh has completed

  Background:
    Given a scratch login keychain with no timeout
    And the session has a GUI
    And Claude Code has stored a credential for the current user
    And the item trusts no application

  @supports:FIX-BURST-ALWAYS @gui
  Scenario Outline: After "<choice>" on a no-timeout keychain, <count> of 3 later reads prompt
    Given Claude Code has refreshed the token
    When Claude Code reads the credential, answering "<choice>"
    And 2 hours pass
    And Claude Code reads the credential 3 times, answering "Deny"
    Then <total> item dialogs were shown in all

    Examples:
      | choice       | count | total |
      | Always Allow | none  | 1     |
      | Allow        | all   | 4     |

  @supports:FIX-BURST-SELFCLEAR @supports:FIX-BURST-OBSERVED
  Scenario: The post-boot prompt storm clears by itself within a minute
    Then the claim cannot be checked here: "a boot of the real login keychain cannot be reproduced with a scratch keychain; the article reports one observation"
