"""Real Claude Code releases as input: fetched from the npm registry, verified, cached,
read (fingerprints of how they call `security`) and run in the sandbox."""
