// The chat page loom-server serves at /: one static page, no CDN and no build step, that streams
// a conversation through /v1/chat/completions and shows each reply's tokens a second.
#pragma once

namespace loom::server {

inline constexpr const char* kChatPage = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>loom</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0; display: flex; flex-direction: column; height: 100vh; }
  header { padding: 8px 12px; border-bottom: 1px solid #ddd; display: flex; gap: 12px; flex-wrap: wrap; align-items: center; }
  header label { display: flex; gap: 6px; align-items: center; }
  #system { width: 28em; }
  #log { flex: 1; overflow-y: auto; padding: 12px; }
  .msg { white-space: pre-wrap; margin: 0 0 10px; padding: 8px 10px; border-radius: 6px; max-width: 48em; }
  .user { background: #e8f0fe; margin-left: auto; }
  .assistant { background: #f3f3f3; }
  .error { background: #fde8e8; }
  .stats { color: #777; font-size: 12px; margin: -6px 0 10px; }
  form { display: flex; gap: 8px; padding: 10px 12px; border-top: 1px solid #ddd; }
  #input { flex: 1; font: inherit; padding: 6px; }
</style>
</head>
<body>
<header>
  <strong>loom</strong>
  <label>System <input id="system" placeholder="You are a helpful assistant."></label>
  <label>Temperature <input id="temperature" type="number" min="0" max="2" step="0.1" value="0.8" style="width:5em"></label>
  <label>Max tokens <input id="max_tokens" type="number" min="1" placeholder="no limit" style="width:6em"></label>
  <label>API key <input id="key" type="password" style="width:8em"></label>
  <button id="clear" type="button">New chat</button>
</header>
<div id="log"></div>
<form id="form"><input id="input" autocomplete="off" placeholder="Message"><button id="send">Send</button></form>
<script>
const log = document.getElementById('log');
const input = document.getElementById('input');
const send = document.getElementById('send');
let history = [];
let running = null;  // the AbortController of the reply being streamed
function add(role, text) {
  const div = document.createElement('div');
  div.className = 'msg ' + role;
  div.textContent = text;
  log.appendChild(div);
  log.scrollTop = log.scrollHeight;
  return div;
}
document.getElementById('clear').onclick = () => { history = []; log.textContent = ''; };
document.getElementById('form').onsubmit = async (ev) => {
  ev.preventDefault();
  if (running) { running.abort(); return; }  // Stop: the server cancels the sequence
  const text = input.value.trim();
  if (!text) return;
  input.value = '';
  add('user', text);
  history.push({role: 'user', content: text});
  const messages = [];
  const system = document.getElementById('system').value.trim();
  if (system) messages.push({role: 'system', content: system});
  messages.push(...history);
  const out = add('assistant', '');
  const headers = {'Content-Type': 'application/json'};
  const key = document.getElementById('key').value;
  if (key) headers['Authorization'] = 'Bearer ' + key;
  const body = {messages, stream: true, temperature: parseFloat(document.getElementById('temperature').value)};
  const maxTokens = parseInt(document.getElementById('max_tokens').value);
  if (maxTokens > 0) body.max_tokens = maxTokens;
  const t0 = performance.now();
  let first = 0, tokens = 0, reply = '';
  running = new AbortController();
  send.textContent = 'Stop';
  try {
    const res = await fetch('/v1/chat/completions',
                            {method: 'POST', headers, body: JSON.stringify(body), signal: running.signal});
    if (!res.ok) {
      const err = await res.json().catch(() => ({error: {message: res.statusText}}));
      throw new Error(err.error ? err.error.message : res.statusText);
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buf += decoder.decode(value, {stream: true});
      let at;
      while ((at = buf.indexOf('\n\n')) >= 0) {
        const line = buf.slice(0, at).trim();
        buf = buf.slice(at + 2);
        if (!line.startsWith('data: ')) continue;
        const data = line.slice(6);
        if (data === '[DONE]') continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        const delta = chunk.choices.length ? chunk.choices[0].delta : null;
        if (delta && delta.content) {
          if (!first) first = performance.now();
          tokens++;
          reply += delta.content;
          out.textContent = reply;
          log.scrollTop = log.scrollHeight;
        }
      }
    }
    history.push({role: 'assistant', content: reply});
    const secs = (performance.now() - (first || t0)) / 1000;
    const stats = document.createElement('div');
    stats.className = 'stats';
    stats.textContent = tokens + ' tokens, ' + (tokens > 1 ? ((tokens - 1) / secs).toFixed(1) : '-') +
        ' tokens/s, first after ' + ((first - t0) / 1000).toFixed(2) + ' s';
    log.appendChild(stats);
  } catch (e) {
    if (e.name === 'AbortError') {
      history.push({role: 'assistant', content: reply});  // what came before Stop
    } else {
      out.className = 'msg error';
      out.textContent = e.message;
      history.pop();
    }
  } finally {
    running = null;
    send.textContent = 'Send';
  }
};
</script>
</body>
</html>
)HTML";

}  // namespace loom::server
