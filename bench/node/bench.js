// The official OpenAI Node SDK as a contender in oaichat's benchmark
// (driven by bench/bench.lua).
//
//   node bench/node/bench.js MODE BASE_URL N WARM [CONC]
//   MODE: seq (await in a loop), par (CONC requests in flight), stream (N whole
//   streams through the SDK's async iterator), ttft (first chunk's receipt
//   minus the server's sent_us).
//
// Prints one JSON line like bench/c_baseline.c: samples, n, wall, cpu
// (process.cpuUsage), rss_kb (peak RSS, resourceUsage().maxRSS), chunks.
'use strict';
const { OpenAI } = require('openai');

const [mode, baseURL, nArg, warmArg, concArg] = process.argv.slice(2);
const n = Number(nArg);
const warm = Number(warmArg);
const conc = Number(concArg || 16);
const client = new OpenAI({ apiKey: 'bench-key', baseURL, maxRetries: 0 });
const params = { model: 'gpt-5.5', messages: [{ role: 'user', content: 'Say hello in one short sentence.' }] };
const samples = [];
let chunks = 0;

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

async function seq(count) {
  for (let i = 0; i < count; i++) await client.chat.completions.create(params);
}

async function par(count) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      await client.chat.completions.create(params);
    }
  };
  await Promise.all(Array.from({ length: conc }, worker));
}

async function stream(count) {
  for (let i = 0; i < count; i++) {
    const s = await client.chat.completions.create({ ...params, stream: true });
    for await (const chunk of s) if (chunk) chunks++;
  }
}

async function ttft(count, keep) {
  for (let i = 0; i < count; i++) {
    const s = await client.chat.completions.create({ ...params, stream: true });
    let first = true;
    for await (const chunk of s) {
      if (first) {
        const got = nowUs();
        if (keep) samples.push((got - chunk.sent_us).toFixed(1));
        first = false;
      }
    }
  }
}

async function main() {
  const run = { seq, par, stream, ttft }[mode];
  if (!run) throw new Error('unknown mode ' + mode);
  await run(warm, false);
  chunks = 0;
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  await run(n, true);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  const rss = process.resourceUsage().maxRSS;
  process.stdout.write(`{"samples":[${samples.join(',')}],"n":${n},"wall":${wall.toFixed(6)},` +
    `"cpu":${cpu.toFixed(6)},"rss_kb":${rss},"chunks":${chunks}}\n`);
}

main().catch((e) => { console.error(e); process.exit(1); });
