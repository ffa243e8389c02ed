// Allure 3 configuration for `keychain-claims report` (history carried over between reports)
import { defineConfig } from "allure";

export default defineConfig({
  name: "keychain-claims: claims of the keychain ACL-invalidation article",
  output: "./reports/allure-report",
  historyPath: "./reports/history.jsonl",
  plugins: {
    awesome: {
      options: { reportLanguage: "en" },
    },
  },
});
