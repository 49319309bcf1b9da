#!/usr/bin/python3
"""Concurrent streaming clients against an OpenAI-compatible server (loom-server, llama-server).

Each client sends /v1/completions requests whose prompt is token ids (so both servers see the
same tokens whatever their vocabularies), greedy, streamed, one after another; the script reports
the aggregate generated tokens a second over the wall time, and per request the time to the first
token and the decode rate after it.

  scripts/server_load.py --port 8080 --clients 8 --requests 2 --prompt-tokens 64 --max-tokens 64
  scripts/server_load.py ... --shared-prefix 1000   # every prompt starts with the same 1000 ids
"""
import argparse, http.client, json, statistics, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--clients", type=int, default=8)
ap.add_argument("--requests", type=int, default=2, help="requests a client, one after another")
ap.add_argument("--prompt-tokens", type=int, default=64)
ap.add_argument("--shared-prefix", type=int, default=0, help="ids every prompt starts with")
ap.add_argument("--max-tokens", type=int, default=64)
ap.add_argument("--first-id", type=int, default=1000)
a = ap.parse_args()

results, lock = [], threading.Lock()


def one(client, k):
    own = [a.first_id + 7 * (client * a.requests + k) + i for i in range(a.prompt_tokens)]
    prompt = [a.first_id + (i % 5000) for i in range(a.shared_prefix)] + own
    body = json.dumps({"prompt": prompt, "max_tokens": a.max_tokens, "temperature": 0,
                       "stream": True, "stream_options": {"include_usage": True}})
    conn = http.client.HTTPConnection(a.host, a.port, timeout=600)
    t0 = time.time()
    conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 200, (r.status, r.read())
    first, chunks, cached, buf = None, 0, None, b""
    while True:
        line = r.readline()
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data: "):
            continue
        data = line[6:]
        if data == b"[DONE]":
            break
        j = json.loads(data)
        if j.get("usage"):
            d = j["usage"].get("prompt_tokens_details") or {}
            cached = d.get("cached_tokens", j.get("timings", {}).get("cache_n"))
        for c in j.get("choices", []):
            if c.get("text"):
                chunks += 1
                if first is None:
                    first = time.time()
    t1 = time.time()
    with lock:
        results.append(dict(ttft=(first or t1) - t0, tokens=chunks, total=t1 - t0,
                            rate=(chunks - 1) / (t1 - first) if first and chunks > 1 else 0,
                            cached=cached))


def client(i):
    for k in range(a.requests):
        one(i, k)


t0 = time.time()
threads = [threading.Thread(target=client, args=(i,)) for i in range(a.clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
wall = time.time() - t0
tokens = sum(r["tokens"] for r in results)
print(json.dumps({
    "clients": a.clients, "requests": len(results), "wall_s": round(wall, 2),
    "generated": tokens, "tok_per_s": round(tokens / wall, 2),
    "ttft_median_s": round(statistics.median(r["ttft"] for r in results), 3),
    "per_request_tok_per_s_median": round(statistics.median(r["rate"] for r in results), 2),
    "cached_tokens": [r["cached"] for r in results],
}))
