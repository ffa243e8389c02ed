// Opens the built report in headless Chromium (Debian's, via playwright-core) as a reviewer would:
//  1. the Allure report's first screen, without any click: the article's title, the claims counted by
//     verdict, the findings and the omissions, the contradicted claims by ID, and whether any claim ID
//     on screen is cut (an element narrower than its text); then a scenario of a contradicted claim
//     and its verdict label;
//  2. reports/article.html: every claim highlighted with its verdict, and a click shows its card;
//     every omission a margin note (left of the text) under its section's heading, a click shows it;
//  3. the claims x releases matrix (release-matrix.html, the grid drawn as SVG): its cells and their verdicts.
// The report's first screen is looked at in two windows, a laptop's 1280x800 and 1920x1080 (`firstScreens`); the
// article at 1280 px and a phone's 390 px (`articleLayout`), and its proposed corrections (`proposed`).
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
    const start = expect.headlineStart;
    found.firstScreens = {};
    for (const [width, height] of [[1920, 1080], [1280, 800]]) {
      stage = `report first screen ${width}x${height}`;
      const shot = await browser.newPage({ viewport: { width, height } });
      await shot.goto(base + "allure-report/index.html", { waitUntil: "networkidle" });
      await shot.waitForFunction((s) => document.body.innerText.includes(s), start, { timeout: 20000 });
      await shot.waitForTimeout(1500);           // Allure scrolls its tree into view after it is drawn
      found.firstScreens[`${width}x${height}`] = await shot.evaluate(([start, ids, groups]) => {
        const inView = (r) => r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0 &&
          r.bottom <= window.innerHeight && r.right <= window.innerWidth;
        const h = Array.from(document.querySelectorAll("h1, h2, h3")).find((e) => e.innerText.startsWith(start));
        // each contradicted ID's own box on screen: a Range around its text inside the headline
        const idBoxes = {};
        if (h) {
          const text = h.firstChild && h.textContent;
          const walker = document.createTreeWalker(h, NodeFilter.SHOW_TEXT);
          while (walker.nextNode()) {
            const node = walker.currentNode;
            for (const id of ids) {
              const hit = new RegExp(id.replace(/-/g, "\\-") + "(?![A-Z0-9-])").exec(node.textContent);
              const at = hit ? hit.index : -1;      // the whole ID (FIX-FILE-FALLBACK, not in FIX-FILE-FALLBACK-TMUX)
              if (at < 0 || idBoxes[id]) continue;
              const range = document.createRange();
              range.setStart(node, at);
              range.setEnd(node, at + id.length);
              idBoxes[id] = inView(range.getBoundingClientRect());
            }
          }
        }
        // what the tree shows: its rows on screen, and the row titles of the groups asked for
        const rows = Array.from(document.querySelectorAll("[data-testid^='tree'], [class*='tree-item'], [class*='tree-header'], [class*='tree-section']"))
          .map((e) => e.innerText.trim().split("\n")[0]).filter((t) => t);
        const bodyText = document.body.innerText;
        return { headlineInView: !!h && inView(h.getBoundingClientRect()), idsInView: idBoxes,
                 groups: Object.fromEntries(groups.map((g) => [g, bodyText.includes(g)])),
                 groupsInView: Object.fromEntries(groups.map((g) => {
                   const el = Array.from(document.querySelectorAll("body *")).find(
                     (e) => !e.children.length && e.textContent.trim() === g);
                   return [g, !!el && inView(el.getBoundingClientRect())];
                 })), treeRows: rows.slice(0, 12) };
      }, [start, expect.contradicted, expect.groups || []]);
      await shot.screenshot({ path: path.join(shots, `report-first-screen-${width}x${height}.png`), fullPage: false });
      await shot.close();
    }
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    stage = "report first screen";
    // 1. the report's first screen: no click
    await page.goto(base + "allure-report/index.html", { waitUntil: "networkidle" });
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
      for (const el of document.querySelectorAll("body *")) {
        if (el.children.length || !el.textContent.trim() || !onScreen(el.getBoundingClientRect())) continue;
        const text = el.textContent.trim();
        if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflow !== "visible" && text.match(id)) {
          cut.push(text);
        }
      }
      let visibleText = "";
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      while (walker.nextNode()) {
        const node = walker.currentNode;
        const r = node.parentElement && node.parentElement.getBoundingClientRect();
        if (r && onScreen(r) && node.textContent.trim()) visibleText += node.textContent.trim() + "\n";
      }
      return { cutIds: cut, firstScreenIds: Array.from(new Set(visibleText.match(id) || [])), firstScreenText: visibleText };
    }));
    const count = headline.match(/(\d+) contradicted/);
    found.contradictedCount = count ? Number(count[1]) : null;
    found.contradictedIds = expect.contradicted.filter((id) => headline.includes(id));
    // the headline sits in the first screen: inside the viewport, its first line not covered by anything
    found.headlineVisible = await page.evaluate((start) => {
      const h = Array.from(document.querySelectorAll("h1, h2, h3")).find((e) => e.innerText.startsWith(start));
      if (!h) return false;
      const r = h.getBoundingClientRect();
      const at = document.elementFromPoint(r.left + 5, r.top + 5);
      return r.top >= 0 && r.bottom <= window.innerHeight && !!at && h.contains(at);
    }, start);
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
    found.scenarioText = scenario;
    await page.screenshot({ path: path.join(shots, "report-scenario.png"), fullPage: false });

    if (expect.findingScenarioId) {
      stage = "report page of a recorded finding";
      await page.goto("about:blank");
      await page.goto(base + "allure-report/index.html#" + expect.findingScenarioId, { waitUntil: "networkidle" });
      await page.waitForFunction(() => document.body.innerText.includes("Category: "), null, { timeout: 20000 });
      await page.waitForTimeout(800);
      let text = await page.innerText("body");
      for (const frame of page.frames()) {
        if (frame !== page.mainFrame()) text += "\n" + (await frame.locator("body").innerText().catch(() => ""));
      }
      found.findingPageText = text;
      await page.screenshot({ path: path.join(shots, "report-finding.png"), fullPage: false });
    }

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

    stage = "article layout";
    found.articleLayout = {};
    for (const [width, height] of [[1280, 800], [390, 844]]) {
      const view = await browser.newPage({ viewport: { width, height } });
      await view.goto(base + "article.html", { waitUntil: "load" });
      const layout = () => view.evaluate(() => {
        const panel = document.getElementById("panel");
        const pr = panel.getBoundingClientRect();
        const shown = getComputedStyle(panel).display !== "none" && pr.width > 0;
        const bad = [];
        for (const el of document.querySelectorAll("main p, main li, main pre, main blockquote, main h1, main h2, main h3, main table")) {
          const r = el.getBoundingClientRect();
          if (r.width === 0) continue;
          const under = shown && r.right > pr.left + 1 && r.left < pr.right && r.bottom > pr.top && r.top < pr.bottom;
          const cut = r.right > window.innerWidth + 1 || el.scrollWidth > el.clientWidth + 1;
          if (under || cut) bad.push({ tag: el.tagName, text: el.innerText.slice(0, 60), under, cut });
        }
        return { panelShown: shown, bad, pageWiderThanWindow: document.documentElement.scrollWidth > window.innerWidth + 1 };
      });
      const before = await layout();
      await view.locator("mark.claim").first().click();
      const after = await layout();
      found.articleLayout[`${width}x${height}`] = { before, after,
        cardVisible: await view.locator(".card.shown").first().isVisible() };
      await view.screenshot({ path: path.join(shots, `article-${width}.png`), fullPage: false });
      await view.close();
    }
    stage = "proposed corrections";
    await page.goto(base + "article.html#proposed", { waitUntil: "load" });
    found.proposed = await page.evaluate(() => Array.from(document.querySelectorAll("#proposed article")).filter(
      (a) => a.getBoundingClientRect().height > 0).map((a) => ({ id: a.dataset.proposal,
        stands: (a.querySelector(".stands") || {}).innerText || "", instead: a.querySelector(".instead").innerText,
        evidence: a.querySelectorAll("li").length })));
    found.proposedMainHidden = await page.evaluate(() => document.querySelector("main").getBoundingClientRect().height === 0);
    await page.screenshot({ path: path.join(shots, "article-proposed.png"), fullPage: false });

    stage = "matrix";
    // 3. the matrix
    const matrix = await page.goto(base + "release-matrix.html", { waitUntil: "load" });
    if (matrix && matrix.ok()) {      // a run without --claude-code writes no matrix
      found.matrix = await page.evaluate(() => Array.from(document.querySelectorAll("g.cell")).map(
        (g) => [g.dataset.claim, g.dataset.release, g.dataset.verdict]));
      await page.locator("svg").first().screenshot({ path: path.join(shots, "release-matrix.png") });
      found.matrixText = await page.innerText("body");
      found.matrixReasons = await page.evaluate(() => Array.from(document.querySelectorAll("ol.why li")).map((l) => l.innerText));
      found.matrixWiderThanWindow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
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
