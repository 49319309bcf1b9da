// loom-server through the official `openai` npm client (scripts/fetch_test_clients.sh installs
// it): chat, completions, streaming, n, model listing and an error, as an SDK user sees them.
// Usage: node server_openai_client.cjs LOOM_SERVER CLIENTS_DIR CHAT_TEMPLATE
'use strict';
const { spawn } = require('child_process');
const path = require('path');
const assert = require('assert/strict');

const [bin, clients, template] = process.argv.slice(2);
let OpenAI;
try {
  ({ OpenAI } = require(path.join(clients, 'node_modules', 'openai')));
} catch (e) {
  console.error(`the openai client is not in ${clients}: run scripts/fetch_test_clients.sh (${e.message})`);
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

async function main() {
  const { child, port } = await start();
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'none' });
    const messages = [{ role: 'user', content: 'Who is Lily?' }];

    const models = await client.models.list();
    assert.equal(models.data[0].id, 'stories260K');

    const whole = await client.chat.completions.create({ model: 'stories260K', messages, max_tokens: 24, temperature: 0 });
    assert.equal(whole.object, 'chat.completion');
    const reply = whole.choices[0].message.content;
    assert.ok(reply.length > 0);
    assert.equal(whole.usage.total_tokens, whole.usage.prompt_tokens + whole.usage.completion_tokens);
    assert.ok(['stop', 'length'].includes(whole.choices[0].finish_reason));

    const stream = await client.chat.completions.create({
      model: 'stories260K', messages, max_tokens: 24, temperature: 0, stream: true,
      stream_options: { include_usage: true },
    });
    let streamed = '';
    let usage = null;
    for await (const chunk of stream) {
      if (chunk.choices.length && chunk.choices[0].delta.content) streamed += chunk.choices[0].delta.content;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(streamed, reply);
    assert.equal(usage.completion_tokens, whole.usage.completion_tokens);

    const many = await client.completions.create({ model: 'stories260K', prompt: 'Once upon a time', max_tokens: 10, temperature: 1, seed: 3, n: 2 });
    assert.equal(many.choices.length, 2);
    assert.deepEqual(many.choices.map((c) => c.index), [0, 1]);
    const second = await client.completions.create({ model: 'stories260K', prompt: 'Once upon a time', max_tokens: 10, temperature: 1, seed: 4 });
    assert.equal(many.choices[1].text, second.choices[0].text);

    await assert.rejects(
      client.chat.completions.create({ model: 'stories260K', messages, temperature: 5 }),
      (e) => e.status === 400 && e.param === 'temperature' && e.type === 'invalid_request_error');
    console.log('openai client: chat, stream, completions with n, models, a 400: ok');
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
