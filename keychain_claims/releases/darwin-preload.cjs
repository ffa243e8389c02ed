// Loaded with `node -r`: makes a JavaScript release of Claude Code take its macOS code path
// (keychain through `security`), so it talks to the sandbox's `security` shim.
const os = require("os");
Object.defineProperty(process, "platform", { value: "darwin" });
os.platform = () => "darwin";
