// Renders every page of the report site in Chromium (see site-check.sh):
// each must load without a console error or warning, a page error or a
// failed request, and must have the plots its body declares
// (`data-plots`), each an SVG with something drawn in it.
const { chromium } = require('playwright-core');
const fs = require('fs');
const path = require('path');
const { pathToFileURL } = require('url');

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

async function main() {
  const [site, shot] = process.argv.slice(2);
  const pages = walk(site).filter((f) => f.endsWith('.html')).sort();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  let problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure() && r.failure().errorText})`));
  let failed = 0;
  let plots = 0;
  for (const file of pages) {
    problems = [];
    await page.goto(pathToFileURL(path.resolve(file)).href, { waitUntil: 'load' });
    const r = await page.evaluate(() => {
      const figures = [...document.querySelectorAll('figure.plot')];
      const empty = figures.filter((f) => {
        const svg = f.querySelector('svg');
        if (!svg) return true;
        const box = svg.getBoundingClientRect();
        return box.width < 20 || box.height < 10
          || svg.querySelectorAll('polyline, circle, path, line, text').length === 0;
      }).map((f) => f.dataset.plot);
      return { declared: Number(document.body.dataset.plots), found: figures.length, empty };
    });
    if (Number.isNaN(r.declared)) problems.push('no data-plots on <body>');
    else if (r.found !== r.declared) problems.push(`${r.found} plots, ${r.declared} declared`);
    for (const e of r.empty) problems.push(`plot ${e} is missing or empty`);
    plots += r.found;
    if (problems.length) {
      failed += 1;
      console.log(`FAIL ${file}`);
      for (const p of problems) console.log(`  ${p}`);
    }
  }
  if (shot) {
    await page.goto(pathToFileURL(path.resolve(site, 'index.html')).href, { waitUntil: 'load' });
    await page.screenshot({ path: shot, fullPage: false });
    console.log(`screenshot: ${shot}`);
  }
  await browser.close();
  console.log(`site-check: ${pages.length} pages, ${plots} plots, ${failed} failing`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(`site-check: ${e.stack || e}`);
  process.exit(2);
});
