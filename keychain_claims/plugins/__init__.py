"""The suite's pytest plugins.  One entry plugin, `plugin.py` (pytest.ini and conftest.py name it,
and only it), declares the options (`command_line.py`), registers the concern modules below and calls
their steps of configure, session finish and unconfigure in one readable order:

  options   -- the command line, what a run may write into, signals, the own-tests switch
  redaction -- the run's own secrets; assertion messages and tracebacks redacted before they are recorded
  backend   -- which `security` the scenarios drive, the safety snapshot, harness errors
  ledger    -- the article and the claims ledger: Gherkin tags to claims, findings to strict xfails
  releases  -- `--claude-code`: release scenarios once per release, their scoped findings
  outcomes  -- each scenario's outcome, what was collected and deselected, the evidence rule
  publish   -- whether the run is complete, its verdicts published at session end, the summary
  mutation  -- `--mutate FILE`: one named step of a scenario run as a no-op (the own tests' mutation check)

Each concern keeps its state under a `StashKey` of its own in `config.stash` (`state.py`), never in
module globals: pytest may run the suite several times in one process (pytester, the own tests)."""
