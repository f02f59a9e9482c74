// The callback operator console in Chromium: the operator gives the token once, sees the
// callbacks with their user data, filters by number, cancels one and then two at once,
// exports the search as CSV, and sees the queues, the agents and the services (the options
// the scenario fixes marked). Run by tests/pages.rs: node console.mjs BASE_URL TOKEN.
import { run, watch, giveToken } from './browser.mjs';
import { readFile } from 'node:fs/promises';

const [base, token] = process.argv.slice(2);
async function create(number, name, desired) {
  const response = await fetch(base + '/genesys/1/service/callback/chat-delay', {
    method: 'POST',
    headers: { gms_user: 'device-' + number, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _customer_number: number, usr_customer_name: name, ...(desired ? { _desired_time: desired } : {}) }).toString(),
  });
  if (!response.ok) throw new Error('create: ' + response.status + ' ' + await response.text());
  return (await response.json())._id;
}
await run(async (browser, failures) => {
  const ids = [await create('5550001', 'Ann'), await create('5550002', 'Bob'), await create('5550003', 'Cy')];
  const page = await browser.newPage({ acceptDownloads: true });
  watch(page, failures);
  await page.goto(base + '/');
  await page.click('text=The callback operator console');
  await giveToken(page, token);

  await page.waitForSelector(`#callbacks tr[data-id="${ids[2]}"]`);
  const header = await page.$$eval('#callbacks thead th', (ths) => ths.map((t) => t.textContent));
  for (const key of ['_id', '_desired_time', '_service_name', '_callback_state', '_callback_reason', '_customer_number', 'usr_customer_name']) {
    if (!header.includes(key)) throw new Error('no column ' + key + ': ' + header);
  }
  // Filter by number.
  await page.fill('#filter input[name=_customer_number]', '5550002');
  await page.click('#filter button[type=submit]');
  await page.waitForFunction(() => document.querySelectorAll('#callbacks tbody tr').length === 1);
  if (!(await page.textContent('#callbacks tbody')).includes('Bob')) throw new Error('the filter shows another callback');
  // Cancel that one.
  await page.click('#callbacks tbody .cancel-one');
  await page.waitForFunction(() => document.querySelector('#callbacks tbody').textContent.includes('CANCELLED'));
  // Back to all; cancel the other two at once.
  await page.fill('#filter input[name=_customer_number]', '');
  await page.click('#filter button[type=submit]');
  await page.waitForFunction(() => document.querySelectorAll('#callbacks tbody tr').length === 3);
  await page.check(`#callbacks input[data-id="${ids[0]}"]`);
  await page.check(`#callbacks input[data-id="${ids[2]}"]`);
  await page.click('#cancel-selected');
  await page.waitForFunction(() => (document.querySelector('#callbacks tbody').textContent.match(/CANCELLED/g) || []).length === 3);
  // Reschedule one to a later time, then find it by its desired time.
  const inTwoDays = new Date(Date.now() + 2 * 86400000);
  inTwoDays.setUTCMinutes(0, 0, 0);
  const scheduled = await create('5550004', 'Di', inTwoDays.toISOString());
  await page.click('#filter button[type=submit]');
  await page.waitForSelector(`#callbacks input[data-id="${scheduled}"]`);
  await page.check(`#callbacks input[data-id="${scheduled}"]`);
  await page.fill('#reschedule input[name=when]', '2030-01-02T10:00:00.000Z');
  // The service books at most a month ahead: the refusal is shown, nothing changes.
  await page.click('#reschedule button');
  await page.waitForFunction(() => document.getElementById('error').textContent.includes('farther ahead'));
  await page.evaluate(() => { document.getElementById('error').textContent = ''; });
  const soon = new Date(Date.now() + 3 * 86400000);
  soon.setUTCMinutes(0, 0, 0);
  const when = soon.toISOString();
  await page.check(`#callbacks input[data-id="${scheduled}"]`);
  await page.fill('#reschedule input[name=when]', when);
  await page.click('#reschedule button');
  await page.waitForFunction((w) => document.querySelector('#callbacks tbody').textContent.includes(w), when);
  await page.fill('#filter input[name=desired_from]', when);
  await page.click('#filter button[type=submit]');
  await page.waitForFunction(() => document.querySelectorAll('#callbacks tbody tr').length === 1);
  if (!(await page.textContent('#callbacks tbody')).includes('Di')) throw new Error('the window shows another callback');
  await page.fill('#filter input[name=desired_from]', '');
  await page.click('#filter button[type=submit]');
  await page.waitForFunction(() => document.querySelectorAll('#callbacks tbody tr').length === 4);
  await page.check(`#callbacks input[data-id="${scheduled}"]`);
  await page.click('#cancel-selected');
  await page.waitForFunction(() => (document.querySelector('#callbacks tbody').textContent.match(/CANCELLED/g) || []).length === 4);
  await page.waitForFunction(() => document.getElementById('metrics').textContent.includes('scxml_sessions_live'));
  // The search as CSV.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  const csv = await readFile(await download.path(), 'utf8');
  const lines = csv.trim().split('\n');
  if (lines.length !== 5 || !lines[0].startsWith('_id,') || !csv.includes('usr_customer_name') || !csv.includes('Cy')) {
    throw new Error('the CSV is not the search: ' + csv);
  }
  // Queues, agents, services.
  await page.waitForSelector('#queues tr[data-queue="chat_vq"] .eta');
  await page.waitForSelector('#agents tr[data-agent="agent1"] .agent-state');
  const locked = await page.textContent('#services');
  if (!locked.includes('scenario _wait_for_agent')) throw new Error('the scenario\'s options are not marked: ' + locked.slice(0, 200));
  if (!(await page.textContent('#health')).includes('ok')) throw new Error('no health');
});
