// Replays every GitHub webhook example of `@octokit/webhooks-examples` (api.github.com) at a
// URL, signed the way GitHub signs deliveries, and prints one JSON summary line.
//
//   node tests/contract/replay-octokit.mjs --url http://127.0.0.1:8000/github --secret S \
//        [--delivery-prefix P] [--concurrency 8] [--timeout-ms 10000]
//   node tests/contract/replay-octokit.mjs --sign --secret S     (signs stdin, prints signature)
//
// Each example is serialised once with JSON.stringify; those very bytes are signed with
// `sign()` of `@octokit/webhooks-methods` (X-Hub-Signature-256) and sent. X-GitHub-Event is the
// example's event name; X-GitHub-Delivery is a UUID derived from the prefix and the example's
// index, so one run never repeats a delivery and two runs with different prefixes never
// collide (the same prefix twice replays the same deliveries, e.g. to test deduplication).
// Summary: {"sent", "examples", "by_status": {"200": n, ...}, "failures": [first 20 non-2xx]}.
// Exit status is 0 whatever the answers were (the caller asserts); 2 on bad usage or setup.

import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

function fail(message) {
  process.stderr.write(`replay-octokit: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const options = { concurrency: 8, timeoutMs: 10000, sign: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${arg} needs a value`);
      i += 1;
      return argv[i];
    };
    if (arg === "--url") options.url = value();
    else if (arg === "--secret") options.secret = value();
    else if (arg === "--delivery-prefix") options.prefix = value();
    else if (arg === "--concurrency") options.concurrency = Number(value());
    else if (arg === "--timeout-ms") options.timeoutMs = Number(value());
    else if (arg === "--sign") options.sign = true;
    else fail(`unknown argument ${arg}`);
  }
  if (!options.secret) fail("--secret is required");
  if (!options.sign && !options.url) fail("--url is required");
  if (!(options.concurrency >= 1 && options.concurrency <= 64)) fail("--concurrency: 1..64");
  if (!(options.timeoutMs >= 100)) fail("--timeout-ms: at least 100");
  return options;
}

async function loadSign() {
  try {
    return (await import("@octokit/webhooks-methods")).sign;
  } catch (error) {
    return fail(`@octokit/webhooks-methods: ${error.message}; run \`npm ci\` in the repo root`);
  }
}

function loadExamples() {
  let path;
  try {
    path = fileURLToPath(import.meta.resolve("@octokit/webhooks-examples/api.github.com/index.json"));
  } catch (error) {
    return fail(`@octokit/webhooks-examples: ${error.message}; run \`npm ci\` in the repo root`);
  }
  const events = JSON.parse(readFileSync(path, "utf8"));
  const examples = [];
  for (const { name, examples: bodies } of events) {
    for (const body of bodies ?? []) examples.push({ event: name, body });
  }
  return examples;
}

function deliveryId(prefix, index) {
  const hex = createHash("sha256").update(`${prefix}:${index}`).digest("hex");
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

async function send(options, sign, example, index, prefix) {
  const payload = JSON.stringify(example.body);
  const signature = await sign(options.secret, payload);
  const started = Date.now();
  try {
    const response = await fetch(options.url, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/octokit-replay",
        "X-GitHub-Event": example.event,
        "X-GitHub-Delivery": deliveryId(prefix, index),
        "X-GitHub-Hook-ID": "1",
        "X-Hub-Signature-256": signature,
      },
      body: Buffer.from(payload, "utf8"), // exactly the signed bytes
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const text = await response.text();
    return { status: response.status, body: text, ms: Date.now() - started };
  } catch (error) {
    return { status: "error", body: `${error.name}: ${error.message}`, ms: Date.now() - started };
  }
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const sign = await loadSign();
  if (options.sign) {
    process.stdout.write(`${await sign(options.secret, await readStdin())}\n`);
    return;
  }
  const examples = loadExamples();
  const prefix = options.prefix ?? randomUUID();
  const byStatus = {};
  const failures = [];
  let sent = 0;
  let next = 0;
  const worker = async () => {
    while (next < examples.length) {
      const index = next;
      next += 1;
      const example = examples[index];
      const answer = await send(options, sign, example, index, prefix);
      sent += 1;
      byStatus[answer.status] = (byStatus[answer.status] ?? 0) + 1;
      const ok = typeof answer.status === "number" && answer.status >= 200 && answer.status < 300;
      if (!ok && failures.length < 20) {
        failures.push({
          event: example.event,
          action: example.body?.action ?? null,
          index,
          status: answer.status,
          body: answer.body.slice(0, 500),
        });
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const summary = { sent, examples: examples.length, by_status: byStatus, failures };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().catch((error) => fail(error.stack ?? String(error)));
