// Opens the built Allure report in headless Chromium (Debian's, via playwright-core), checks that
// the features, a claim label and the backend label are on the page, and takes a screenshot.
// usage: node report_check.cjs URL SCREENSHOT FEATURE CLAIM BACKEND
const { chromium } = require("playwright-core");

(async () => {
  const [url, shot, feature, claim, backend] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const found = {};
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(url, { waitUntil: "networkidle" });
    await page.getByText("features", { exact: true }).first().click();       // the tree's top node
    await page.waitForFunction((f) => document.body.innerText.includes(f), feature, { timeout: 20000 });
    found.feature = (await page.innerText("body")).includes(feature);
    await page.screenshot({ path: shot, fullPage: false });
    // open a scenario of the claim and read its labels
    await page.getByText(feature).first().click();
    await page.getByText(/The prompt is raised for security/).first().click();
    await page.waitForFunction((c) => document.body.innerText.includes(c), claim, { timeout: 20000 });
    const text = await page.innerText("body");
    found.claim = text.includes(claim);
    found.backend = text.includes(backend);
    await page.screenshot({ path: shot.replace(/\.png$/, "-scenario.png"), fullPage: false });
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(found));
})().catch((e) => { console.error(String(e).split("\n")[0]); process.exit(1); });
