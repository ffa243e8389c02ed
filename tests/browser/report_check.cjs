// Opens the built report in headless Chromium (Debian's, via playwright-core) as a reviewer would:
//  1. the Allure report's first screen, without any click: the article's title, the claims counted by
//     verdict, the findings and the omissions, the contradicted claims by ID, and whether any claim ID
//     on screen is cut (an element narrower than its text); then a scenario of a contradicted claim
//     and its verdict label;
//  2. reports/article.html: every claim highlighted with its verdict, and a click shows its card;
//     every omission a margin note (left of the text) under its section's heading, a click shows it;
//  3. the claims x releases matrix (release-matrix.html, the grid drawn as SVG): its cells and their verdicts.
// Screenshots of each go to the directory given.  Prints what it found as JSON.
// usage: node report_check.cjs BASE_URL SHOT_DIR EXPECT_JSON
//   BASE_URL serves the reports directory (allure-report/, article.html, release-matrix.html)
//   EXPECT_JSON = {"contradicted": [ids], "claims": {id: verdict}, "scenarioId": "Allure id of a contradicting scenario",
//                  "headlineStart": "start of the report's name"}
const { chromium } = require("playwright-core");
const path = require("path");

(async () => {
  const [base, shots, expectJson] = process.argv.slice(2);
  const expect = JSON.parse(expectJson);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const found = {};
  let stage = "launch";
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    stage = "report first screen";
    // 1. the report's first screen: no click
    await page.goto(base + "allure-report/index.html", { waitUntil: "networkidle" });
    const start = expect.headlineStart;
    await page.waitForFunction((s) => document.body.innerText.includes(s), start, { timeout: 20000 });
    const first = await page.innerText("body");
    const headline = first.split("\n").find((l) => l.startsWith(start)) || "";
    found.headline = headline;
    found.title = await page.title();
    // what the first screen shows without a click or a scroll, and any claim ID cut short on it
    Object.assign(found, await page.evaluate(() => {
      const id = /\b(?:SYM|CAU|TRI|FIX|CAV|NOTE|REL|OMI)-[A-Z0-9-]*/g;
      const onScreen = (r) => r.width > 0 && r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight;
      const cut = [];
      const variables = {};
      for (const el of document.querySelectorAll("body *")) {
        if (el.children.length || !el.textContent.trim() || !onScreen(el.getBoundingClientRect())) continue;
        const text = el.textContent.trim();
        if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflow !== "visible" && text.match(id)) {
          cut.push(text);
        }
      }
      // the variables grid: key -> value as rendered (a key or value cut short shows "…" or overflows)
      const all = Array.from(document.querySelectorAll("body *")).filter((e) => !e.children.length);
      const heading = all.find((e) => e.textContent.trim() === "Variables");
      let visibleText = "";
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      while (walker.nextNode()) {
        const node = walker.currentNode;
        const r = node.parentElement && node.parentElement.getBoundingClientRect();
        if (r && onScreen(r) && node.textContent.trim()) visibleText += node.textContent.trim() + "\n";
      }
      return { cutIds: cut, firstScreenIds: Array.from(new Set(visibleText.match(id) || [])), firstScreenText: visibleText,
               variablesShown: !!heading && onScreen(heading.getBoundingClientRect()) };
    }));
    const count = headline.match(/(\d+) contradicted/);
    found.contradictedCount = count ? Number(count[1]) : null;
    found.contradictedIds = expect.contradicted.filter((id) => headline.includes(id));
    found.variables = expect.contradicted.filter((id) => first.includes(id));
    // the headline sits in the first screen: inside the viewport, its first line not covered by anything
    found.headlineVisible = await page.evaluate((start) => {
      const h = Array.from(document.querySelectorAll("h1, h2, h3")).find((e) => e.innerText.startsWith(start));
      if (!h) return false;
      const r = h.getBoundingClientRect();
      const at = document.elementFromPoint(r.left + 5, r.top + 5);
      return r.top >= 0 && r.bottom <= window.innerHeight && !!at && h.contains(at);
    }, start);
    await page.screenshot({ path: path.join(shots, "report-first-screen.png"), fullPage: false });
    stage = "report scenario page";
    // a scenario of a contradicted claim shows its verdict label and evidence
    await page.goto("about:blank");
    await page.goto(base + "allure-report/index.html#" + expect.scenarioId, { waitUntil: "networkidle" });
    await page.waitForFunction(() => document.body.innerText.includes("Category: "), null, { timeout: 20000 });
    await page.waitForTimeout(500);
    let scenario = await page.innerText("body");
    for (const frame of page.frames()) {          // the description is rendered in an iframe
      if (frame !== page.mainFrame()) scenario += "\n" + (await frame.locator("body").innerText().catch(() => ""));
    }
    found.scenarioVerdict = (scenario.match(/Verdict: ([a-z-]+)/) || [])[1] || null;
    found.scenarioCategory = scenario.includes("Claim contradicted");
    await page.screenshot({ path: path.join(shots, "report-scenario.png"), fullPage: false });

    stage = "annotated article";
    // 2. the annotated article
    await page.goto(base + "article.html", { waitUntil: "load" });
    found.highlighted = await page.evaluate(() => {
      const out = {};
      document.querySelectorAll("mark.claim").forEach((m) => {
        m.dataset.claims.split(" ").forEach((id) => {
          const card = document.getElementById("claim-" + id);
          out[id] = card ? card.dataset.verdict : "no card";
        });
      });
      return out;
    });
    const target = expect.contradicted[0];
    await page.locator(`mark[data-claims~="${target}"]`).first().click();
    found.cardShown = await page.locator(`#claim-${target}`).isVisible();
    found.cardText = (await page.locator(`#claim-${target}`).innerText()).slice(0, 400);
    found.cardLinks = await page.locator(`#claim-${target} a`).count();
    await page.screenshot({ path: path.join(shots, "article.png"), fullPage: false });
    // margin notes: what the article misses, each beside the text under the heading of its section
    found.notes = await page.evaluate(() => {
      const main = document.querySelector("main").getBoundingClientRect();
      const text = document.querySelector("main p, main ul").getBoundingClientRect();
      return Array.from(document.querySelectorAll("aside.omission")).map((n) => {
        let h = n;                  // the nearest heading before the note in document order
        while (h && h.tagName !== "MAIN" && !/^H[1-3]$/.test(h.tagName)) h = h.previousElementSibling || h.parentElement;
        const r = n.getBoundingClientRect();
        return { id: n.dataset.omission, verdict: n.dataset.verdict, heading: h ? h.innerText : "",
                 inMargin: r.right <= text.left + 1 && r.left >= 0, text: n.innerText.slice(0, 200) };
      });
    });
    if (found.notes.length) {
      const note = page.locator("aside.omission").first();
      await note.scrollIntoViewIfNeeded();
      await note.click();
      const id = found.notes[0].id;
      found.noteCardShown = await page.locator(`#omission-${id}`).isVisible();
      found.noteCardLinks = await page.locator(`#omission-${id} a[href^="https://"]`).count();
      await page.screenshot({ path: path.join(shots, "article-omission.png"), fullPage: false });
    }

    stage = "matrix";
    // 3. the matrix
    const matrix = await page.goto(base + "release-matrix.html", { waitUntil: "load" });
    if (matrix && matrix.ok()) {      // a run without --claude-code writes no matrix
      found.matrix = await page.evaluate(() => Array.from(document.querySelectorAll("g.cell")).map(
        (g) => [g.dataset.claim, g.dataset.release, g.dataset.verdict]));
      await page.locator("svg").first().screenshot({ path: path.join(shots, "release-matrix.png") });
    } else {
      found.matrix = null;
    }
  } catch (e) {
    throw new Error(`${stage}: ${String(e).split("\n")[0]}`);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(found));
})().catch((e) => { console.error(String(e).split("\n")[0]); process.exit(1); });
