// What the page scripts share: Chromium (Debian's, or $CHROMIUM), pages whose script errors
// are failures, the token form, and one way to end: `ok`, or the failures and exit code 1.
import { chromium } from 'playwright-core';

// Runs `body(browser, failures)`; whatever it throws is a failure too.
export async function run(body) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  const failures = [];
  try {
    await body(browser, failures);
  } catch (e) {
    failures.push(e.message);
  } finally {
    await browser.close();
  }
  if (failures.length) {
    console.error(failures.join('\n'));
    process.exit(1);
  }
  console.log('ok');
}

// Counts a page's script errors as failures (prefixed with `who`). The browser also logs
// every answer that is not 2xx; the pages handle those themselves (a 401 asks for the token,
// a 409 or a refusal is shown), so those do not count.
// `handled` says which console errors are such answers (by default, every failed load).
export function watch(page, failures, who = '', handled = (text) => text.startsWith('Failed to load resource')) {
  const prefix = who ? who + ' ' : '';
  page.on('pageerror', (e) => failures.push(prefix + 'page error: ' + e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !handled(m.text())) failures.push(prefix + 'console: ' + m.text());
  });
}

// Gives the token form the page shows.
export async function giveToken(page, token) {
  await page.waitForSelector('#token-form');
  await page.fill('#token-form input[name=token]', token);
  await page.click('#token-form button');
}
