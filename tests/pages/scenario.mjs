// The seed's chat-delay scenario in Chromium, as two people: a customer on the tester page
// and an agent on the agent desktop, in two browser contexts. The customer asks for a
// callback; the agent gets ready; the customer is told an agent is available and connects;
// the chat starts; they exchange messages; the agent ends it with a disposition, and the
// customer's page shows the callback COMPLETED / AGENT_CONNECTED. Screenshots of each page go
// to SHOTS_DIR when it is set. Run by tests/pages.rs: node scenario.mjs BASE_URL TOKEN.
import { run, watch, giveToken } from './browser.mjs';

const [base, token] = process.argv.slice(2);
const shots = process.env.SHOTS_DIR;
await run(async (browser, failures) => {
  const customer = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  const agent = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  watch(customer, failures, 'customer');
  watch(agent, failures, 'agent');

  await customer.goto(base + '/genesys/pages/tester.html');
  await customer.waitForSelector('#services option[value="chat-delay"]', { state: 'attached' });
  await customer.selectOption('#services', 'chat-delay');
  await customer.click('#create button[type=submit]');
  await customer.waitForFunction(() => document.getElementById('state').textContent.startsWith('QUEUED'));
  await customer.waitForSelector('#requests .request:has-text("curl -s -X POST")');

  await agent.goto(base + '/genesys/pages/agent.html');
  await giveToken(agent, token);
  await agent.click('[data-step=login]');
  await agent.click('[data-step=ready]');
  await agent.waitForFunction(() => document.getElementById('state').textContent === 'reserved');

  // The push over CometD asks the customer to confirm; the pushed action does it.
  await customer.waitForSelector('#confirm:not([hidden])', { timeout: 8000 });
  if (shots) await customer.screenshot({ path: shots + '/tester.png', fullPage: true });
  await customer.click('#connect');
  await customer.waitForSelector('#start-chat:not([disabled])');
  await customer.click('#start-chat');

  // The chat reaches the agent, with the callback's data.
  await agent.waitForSelector('#offer-actions:not([hidden])', { timeout: 8000 });
  const data = await agent.textContent('#callback');
  if (!data.includes('5551234') || !data.includes('Bob Markel')) throw new Error('the callback data is not shown: ' + data);
  await agent.click('#accept');
  await agent.fill('#chat input[name=text]', 'Hello, Alice here');
  await agent.click('#chat button');
  await customer.waitForSelector('#transcript .chat-Message:has-text("Hello, Alice here")', { timeout: 8000 });
  await customer.fill('#chat input[name=message]', 'Hi Alice');
  await customer.click('#chat button[type=submit]');
  await agent.waitForSelector('#transcript .chat-Message:has-text("Hi Alice")', { timeout: 8000 });
  if (shots) await agent.screenshot({ path: shots + '/agent.png', fullPage: true });

  await agent.fill('#end input[name=disposition]', 'SOLVED');
  await agent.click('#end button');
  await customer.waitForFunction(() => document.getElementById('state').textContent === 'COMPLETED / AGENT_CONNECTED', null, { timeout: 8000 });
  const shown = await customer.textContent('#error');
  if (shown) throw new Error('the tester shows an error: ' + shown);

  if (shots) {
    const operator = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await operator.goto(base + '/genesys/pages/console.html');
    await giveToken(operator, token);
    await operator.waitForSelector('#callbacks tbody tr');
    await operator.screenshot({ path: shots + '/console.png', fullPage: true });
    await operator.goto(base + '/');
    await operator.waitForSelector('#health-status');
    await operator.screenshot({ path: shots + '/landing.png' });
  }
});
