// keychain-claims: a `--preload` for native releases whose host runtime evaluates its own entry
// point without asking a preload's resolver (entry-probe.mjs tells them apart).  It starts the
// darwin build's entry itself and never lets the host's own entry (the Linux code path) run:
// the darwin program ends the process as it does on a Mac (process.exit).
const entry = process.env.KEYCHAIN_CLAIMS_DARWIN_ENTRY;
delete process.env.KEYCHAIN_CLAIMS_DARWIN_ENTRY;           // not for the processes the release starts
if (entry) {
  await import(entry);
  await new Promise(() => {});
}
