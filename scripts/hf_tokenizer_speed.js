// Hugging Face tokenizers (the Rust library transformers uses, through its npm binding): load
// ms and encode MB/s on one thread, whole text and by line. Usage in docs/tokenizers.md.
const {Tokenizer} = require('tokenizers'); const fs = require('fs');
const median = a => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
(async () => {
  const [dir, R, ...texts] = process.argv.slice(2);
  const loads = [];
  let tok;
  for (let i = 0; i < +R; i++) { const t0 = process.hrtime.bigint(); tok = Tokenizer.fromFile(dir + '/tokenizer.json'); loads.push(Number(process.hrtime.bigint() - t0) / 1e6); }
  for (const f of texts) {
    const text = fs.readFileSync(f, 'utf8'); const bytes = Buffer.byteLength(text);
    await tok.encode(text, null, {addSpecialTokens: false});
    const rates = [];
    for (let i = 0; i < +R; i++) { const t0 = process.hrtime.bigint(); await tok.encode(text, null, {addSpecialTokens: false}); rates.push(bytes / (Number(process.hrtime.bigint() - t0) / 1e9) / 1e6); }
    const lines = text.split(/(?<=\n)/);
    await tok.encodeBatch(lines, {addSpecialTokens: false});
    const lrates = [];
    for (let i = 0; i < +R; i++) { const t0 = process.hrtime.bigint(); await tok.encodeBatch(lines, {addSpecialTokens: false}); lrates.push(bytes / (Number(process.hrtime.bigint() - t0) / 1e9) / 1e6); }
    console.log(`by-line(batch, 1 rayon thread) MB/s ${median(lrates).toFixed(2)}`);
    console.log(`${dir.split('/').pop()} ${f.split('/').pop()} load_ms ${median(loads).toFixed(1)} MB/s ${median(rates).toFixed(2)} best ${Math.max(...rates).toFixed(2)}`);
  }
})();
