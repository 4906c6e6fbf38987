// A page in headless Chromium (the distribution's package), driven by playwright-core (no browser download).
//
// Usage: node browser.mjs '<JSON job>'; JSON lines on stdout: {"event": "ready"}, then
// {"event": "message", "data": <text of a new line on the page>} for each, {"event": "error", "error"}.
// Job: {"executable", "spki" (base64 SHA-256 of the server key the browser is to trust), "url",
//       "fill": {selector: value}, "click": selector | null, "ready": {"selector", "text"},
//       "lines": selector of the page's message lines, "newest_first": bool, "count",
//       "report": selector of an element whose text, once it has one, ends the run as {"event": "report"}}
import { chromium } from 'playwright-core';

const job = JSON.parse(process.argv[2]);
const emit = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

// The local authority's certificate is trusted by its key only, as a user would trust it in a profile;
// every other certificate is still verified.
const browser = await chromium.launch({
  executablePath: job.executable,
  args: [`--ignore-certificate-errors-spki-list=${job.spki}`, '--no-sandbox'],
});
try {
  const page = await browser.newPage();
  page.on('console', (message) => process.stderr.write(`console: ${message.text()}\n`));
  page.on('pageerror', (error) => emit({ event: 'error', error: String(error) }));
  await page.goto(job.url);
  for (const [selector, value] of Object.entries(job.fill ?? {})) await page.fill(selector, value);
  if (job.click) await page.click(job.click);
  await page.locator(job.ready.selector, { hasText: job.ready.text }).waitFor({ timeout: 15000 });
  emit({ event: 'ready' });
  let seen = 0;
  while (seen < job.count) {
    const texts = await page.locator(job.lines).allTextContents();
    const ordered = job.newest_first ? texts.reverse() : texts;
    for (const text of ordered.slice(seen)) emit({ event: 'message', data: text });
    seen = ordered.length;
    await page.waitForTimeout(50);
  }
  emit({ event: 'done' });
  if (job.report) {
    const element = page.locator(job.report);
    await page.waitForFunction((node) => node.textContent !== '', await element.elementHandle(), {
      timeout: 15000,
    });
    emit({ event: 'report', data: await element.textContent() });
  }
} catch (error) {
  emit({ event: 'error', error: String(error) });
} finally {
  await browser.close();
}
