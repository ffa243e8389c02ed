// Opens the release history page (docs/history/history.html, or any release-history.html) in headless
// Chromium (Debian's, via playwright-core) at 1280x800, as a reviewer would, and says what the first
// screen shows without a scroll: which claim rows, which release columns (whole), the article-era
// column, any raw markdown in the page's text, and a not-checkable cell's tooltip. A screenshot of the
// first screen goes to the file given.
// usage: node history_check.cjs URL SHOT.png
const { chromium } = require("playwright-core");

(async () => {
  const [url, shot] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(url, { waitUntil: "load" });
    const found = await page.evaluate(() => {
      const W = window.innerWidth, H = window.innerHeight;
      const whole = (r) => r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= H && r.right <= W;
      const rows = Array.from(document.querySelectorAll("table.h tr")).filter((tr) => tr.querySelector("td.v, td.none"));
      const claims = rows.map((tr) => tr.querySelector("th.claim").textContent.trim());
      const claimsOnScreen = rows.filter((tr) => whole(tr.querySelector("th.claim").getBoundingClientRect()))
        .map((tr) => tr.querySelector("th.claim").textContent.trim());
      const heads = Array.from(document.querySelectorAll("th.rel"));
      const releases = heads.map((th) => th.textContent.replace("★", "").trim());
      const releasesOnScreen = heads.filter((th) => whole(th.getBoundingClientRect()))
        .map((th) => th.textContent.replace("★", "").trim());
      const era = document.querySelector("th.rel.era");
      const text = document.body.innerText;
      const raw = (text.match(/^\s*\|.*\|\s*$|\*\*[^*]+\*\*|`[^`]+`|^#+ /gm) || []);
      const nc = document.querySelector("td.v[data-verdict='not-checkable']");
      const cells = Array.from(document.querySelectorAll("td.v")).map((td) =>
        [td.dataset.claim, td.dataset.release, td.dataset.verdict]);
      return { claims, claimsOnScreen, releases, releasesOnScreen, era: era ? era.textContent.replace("★", "").trim() : "",
               raw, notCheckableTitle: nc ? nc.title : "", cells,
               title: document.title, h1: (document.querySelector("h1") || {}).textContent || "" };
    });
    await page.screenshot({ path: shot });
    process.stdout.write(JSON.stringify(found));
  } finally {
    await browser.close();
  }
})().catch((err) => { console.error(String(err && err.stack || err)); process.exit(1); });
