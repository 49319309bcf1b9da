// loom-server's chat page in a real browser: headless Chromium (Debian's) driven by
// playwright-core (scripts/fetch_test_clients.sh installs it). The page is opened, a system prompt
// temperature 0 and max tokens set, a message sent; the streamed reply must equal what the API gives for the
// same conversation, and the tokens/s line must show. A second turn carries the first.
// Usage: node server_chat_page.cjs LOOM_SERVER CLIENTS_DIR CHAT_TEMPLATE [SCREENSHOT.png]
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');
const assert = require('assert/strict');

const [bin, clients, template, screenshot] = process.argv.slice(2);
let chromium;
try {
  ({ chromium } = require(path.join(clients, 'node_modules', 'playwright-core')));
} catch (e) {
  console.error(`playwright-core is not in ${clients}: run scripts/fetch_test_clients.sh (${e.message})`);
  process.exit(1);
}
const browserPath = process.env.LOOM_CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(browserPath)) {
  console.error(`no Chromium at ${browserPath}: scripts/install-deps.sh installs Debian's chromium`);
  process.exit(1);
}

function start() {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['--port', '0', '-t', '2', '--chat-template', template]);
    let log = '';
    let port = 0;
    child.stderr.on('data', (d) => {
      log += d;
      const m = log.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) port = Number(m[1]);
      if (port && log.includes('model loaded')) resolve({ child, port });
      if (log.includes('error')) reject(new Error(log));
    });
    child.on('exit', (code) => reject(new Error(`loom-server exited (${code}): ${log}`)));
  });
}

async function api(port, messages) {
  const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ messages, temperature: 0, max_tokens: 48 }),
  });
  assert.equal(res.status, 200);
  return (await res.json()).choices[0].message.content;
}

async function main() {
  const { child, port } = await start();
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  const browser = await chromium.launch({
    executablePath: browserPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 560 } });
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`http://127.0.0.1:${port}/`);
    assert.equal(await page.title(), 'loom');
    const system = 'Answer with a story.';
    await page.fill('#system', system);
    await page.fill('#temperature', '0');
    await page.fill('#max_tokens', '48');

    // First turn.
    await page.fill('#input', 'Who is Lily?');
    await page.click('#send');
    await page.waitForSelector('.stats', { timeout: 30000 });
    const first = await page.locator('.msg.assistant').first().textContent();
    const expected1 = await api(port, [
      { role: 'system', content: system },
      { role: 'user', content: 'Who is Lily?' },
    ]);
    assert.ok(expected1.length > 0);
    assert.equal(first, expected1);
    const stats = await page.locator('.stats').first().textContent();
    assert.match(stats, /^\d+ tokens, [\d.]+ tokens\/s, first after [\d.]+ s$/);

    // Second turn: the page sends the conversation so far.
    await page.fill('#input', 'What did she do?');
    await page.click('#send');
    await page
      .waitForFunction(() => document.querySelectorAll('.stats, .msg.error').length === 2, null, {
        timeout: 30000,
      })
      .catch(async (e) => {
        throw new Error(`${e.message}; the page shows: ${await page.locator('#log').textContent()}`);
      });
    assert.equal(await page.locator('.msg.error').count(), 0, await page.locator('#log').textContent());
    const second = await page.locator('.msg.assistant').nth(1).textContent();
    const expected2 = await api(port, [
      { role: 'system', content: system },
      { role: 'user', content: 'Who is Lily?' },
      { role: 'assistant', content: expected1 },
      { role: 'user', content: 'What did she do?' },
    ]);
    assert.equal(second, expected2);
    assert.equal(await page.locator('.msg.error').count(), 0);
    assert.deepEqual(pageErrors, []);
    if (screenshot) await page.screenshot({ path: screenshot });
    console.log('chat page: 2 turns streamed in Chromium, equal to the API replies');
  } finally {
    await browser.close();
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
