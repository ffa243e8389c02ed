"""The suite's pytest plugins, one concern each, registered by the project's conftest.py
(`pytest_plugins`):

  options   -- the command line, what a run may write into, signals, the own-tests switch
  backend   -- which `security` the scenarios drive, the safety snapshot, harness errors
  ledger    -- the article and the claims ledger: Gherkin tags to claims, findings to strict xfails
  releases  -- `--claude-code`: release scenarios once per release, their scoped findings
  outcomes  -- each scenario's outcome, what was collected and deselected, redaction of reports
  publish   -- whether the run is complete, its verdicts published at session end, the summary
  mutation  -- `--mutate FILE`: one named step of a scenario run as a no-op (the own tests' mutation check)

A run's state lives in one `RunState` in `config.stash` (`state.py`), never in module globals:
pytest may run the suite several times in one process (pytester, the project's own tests)."""
