// The live statechart view in Chromium: the landing page's health, then a session's view,
// driven as a person would: give the token once, see the chart with the active state lit,
// send an event from the form, and see the next state lit, the event logged and the source
// of a clicked state, and an error of another session logged with its element and line. Run
// by tests/pages.rs: node view.mjs BASE_URL TOKEN SESSION_ID FAILING_SESSION_ID.
import { run, watch, giveToken } from './browser.mjs';

const [base, token, session, failing] = process.argv.slice(2);
await run(async (browser, failures) => {
  const page = await browser.newPage();
  // A 401 is how a page learns it needs the token (it then asks): not a failure.
  watch(page, failures, '', (text) => text.includes('status of 401'));

  // The landing page: what this is, the node's health, links to the pages.
  await page.goto(base + '/');
  await page.waitForSelector('#health-status');
  const health = await page.textContent('#health-status');
  if (health !== 'ok') throw new Error('health shows ' + health);
  await page.click('text=Sessions >> nth=0');
  // The list asks for the token once, then lists the session.
  await giveToken(page, token);
  await page.waitForSelector(`a[href*="${session}"]`);
  await page.click(`a[href*="${session}"]`);

  // The same tab keeps the token: the view draws at once.
  await page.waitForSelector('.state[data-id="red"].active', { timeout: 5000 });
  const drawn = await page.$$eval('.state', (boxes) => boxes.map((b) => b.dataset.id));
  for (const id of ['on', 'red', 'green', 'yellow', 'off']) {
    if (!drawn.includes(id)) throw new Error('state ' + id + ' is not drawn: ' + drawn);
  }
  if (!(await page.$('.state[data-id="off"].final'))) throw new Error('off is not drawn as final');

  // An event from the form moves the chart on, and the log says so.
  await page.fill('#send input[name=name]', 'timer');
  await page.fill('#send input[name=data]', '{"by": "the page"}');
  await page.click('#send button');
  await page.waitForSelector('.state[data-id="green"].active', { timeout: 5000 });
  // The transition just taken is marked: red's timer transition.
  await page.waitForSelector('.state[data-id="red"] > .transitions li.taken:has-text("timer")', { timeout: 5000 });
  if (await page.$('.state[data-id="red"].active')) throw new Error('red is still lit');
  await page.waitForSelector('.log .entry:has-text("timer")');
  // The payload is in the log, and the filter hides it.
  await page.waitForSelector('.log .payload:has-text("the page")');
  await page.uncheck('#show-data');
  if (await page.isVisible('.log .payload')) throw new Error('the filter does not hide payloads');
  await page.check('#show-data');
  if (process.env.SHOTS_DIR) await page.screenshot({ path: process.env.SHOTS_DIR + '/statechart.png', fullPage: true });

  // A click on a state shows its source line.
  await page.click('.state[data-id="yellow"] > .name');
  const here = await page.textContent('#source .here');
  if (!here.includes('yellow')) throw new Error('the source line of yellow is not shown: ' + here);

  // An error the session raises is logged with the element, its line and column.
  await page.goto(base + '/pages/session.html?id=' + failing);
  await page.waitForSelector('.state[data-id="idle"].active');
  await page.fill('#send input[name=name]', 'boom');
  await page.click('#send button');
  await page.waitForSelector('.error-event:has-text("error.execution <assign> at line 3")', { timeout: 5000 });
  await page.click('.error-event');
  const line = await page.textContent('#source .here');
  if (!line.includes('x.y.z')) throw new Error('the failing line is not shown: ' + line);
});
