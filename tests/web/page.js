// Drives Debian's chromium headless over the hub's web page, for
// tests/integration/test_page.py: node page.js URL, then one step a line
// on stdin, each answered "ok STEP" or "fail STEP: WHY" on stdout:
//   show SELECTOR       wait (up to 20 s) until the page shows an element
//   hide SELECTOR       wait (up to 20 s) until no element matches
//   type SELECTOR TEXT  fill an input with TEXT (SELECTOR without spaces; no
//                       TEXT empties it)
//   screenshot PATH     save the page as a PNG
//   done                print the console errors seen ("errors N") and exit
const { chromium } = require("playwright-core");
const readline = require("readline");

async function main() {
  const url = process.argv[2];
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu"],
  });
  const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("requestfailed", (r) => errors.push("request failed: " + r.url()));
  await page.goto(url);
  console.log("ok loaded");
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    const [verb, ...rest] = line.trim().split(" ");
    const arg = rest.join(" ");
    try {
      if (verb === "show") await page.waitForSelector(arg, { timeout: 20000 });
      else if (verb === "hide") await page.waitForSelector(arg, { state: "detached", timeout: 20000 });
      else if (verb === "type") await page.fill(rest[0], rest.slice(1).join(" "));
      else if (verb === "screenshot") await page.screenshot({ path: arg, fullPage: true });
      else if (verb === "done") break;
      else throw new Error("unknown step");
      console.log("ok " + line.trim());
    } catch (e) {
      console.log("fail " + line.trim() + ": " + String(e.message).split("\n")[0]);
    }
  }
  console.log("errors " + errors.length);
  for (const e of errors) console.log("error " + e);
  await browser.close();
}

main().catch((e) => { console.log("fail start: " + e.message); process.exit(1); });
