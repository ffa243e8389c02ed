// keychain-claims: does this host runtime pass its own entry point through a preload's resolver?
// (Bun.plugin's onResolve; the darwin redirect of a native release relies on it.)  Says so on stderr.
const mark = "keychain-claims: entry resolved through the preload";
Bun.plugin({
  name: "keychain-claims: entry probe",
  setup(build) {
    build.onResolve({ filter: /^\/\$bunfs\/root\// }, (args) => {
      if (args.path === Bun.main) console.error(mark);
      return undefined;
    });
  },
});
