@notes
Feature: Citations and related articles

  @supports:CAU-CITED-ISSUES
  Scenario: The cited issues show updates as the most common trigger
    Then the claim cannot be checked here: "the cited GitHub issues are not reachable offline; per shared/reference/claude-code-credentials.md #48162 and #9403 are about other problems"

  @supports:NOTE-SAME-ITEM
  Scenario: The related article is about the same keychain item
    Then the claim cannot be checked here: "the related article is not vendored into this suite"
