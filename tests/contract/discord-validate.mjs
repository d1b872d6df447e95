// Validates Discord REST request bodies and interaction responses against Discord's official
// OpenAPI spec, as packaged by `discord-api-spec` (TypeScript types + zod/mini schemas).
//
//   node tests/contract/discord-validate.mjs        (long-lived; JSON lines on stdin/stdout)
//
// Requests, one JSON object per line:
//   {"id": 1, "method": "PATCH", "path": "/api/v10/webhooks/1/tok/messages/@original", "body": {...}}
//   {"id": 2, "kind": "interaction_response", "body": {...}}
//   {"id": 3, "kind": "describe", "method": "PUT", "path": "/applications/1/commands"}
// Answers, one line each, same order:
//   {"id": 1, "ok": true|false, "route": "PATCH /webhooks/...", "schema": "A | B", "errors": [...]}
// A request without "body" means "no body"; `"body": null` is a JSON null body.
//
// The route table comes from the `Paths` interface in build/discord-api-spec.ts (each path
// template and method -> its `requestBody` type); the schemas are that package's zod schemas,
// loaded from a rewritten copy of the module so that every object schema is strict (unknown
// keys are errors). `setStrictObject(true)` cannot do this: the schemas are built at import.
// Anything that cannot be checked (unknown route, inline body type) is reported as not ok.

import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const INTERACTION_CALLBACK = "/interactions/{interaction_id}/{interaction_token}/callback";

// Known differences between the spec and what Discord documents and accepts. Each is a patch of
// the zod module source that must apply exactly `count` times, so a new spec version that
// changes the text fails loudly here instead of silently validating something else.
const QUIRKS = [
  {
    name: "default_member_permissions: decimal string accepted",
    why:
      "Discord documents default_member_permissions as a string bit set (and returns it as a " +
      "string), but the OpenAPI request schemas type it as an integer; the API accepts both.",
    find: /(default_member_permissions: \/\* @__PURE__ \*\/ z\.nullish\(\s*)\/\* @__PURE__ \*\/ z\s*\.number\(\)\s*\.check\(([^\n]*)\),\n/g,
    replace:
      "$1z.union([z.number().check($2), z.string().check(z.regex(/^(0|[1-9][0-9]*)$/))]),\n",
    count: 3,
  },
];

function fail(message) {
  process.stderr.write(`discord-validate: ${message}\n`);
  process.exit(2);
}

function resolveOrFail(specifier) {
  try {
    return import.meta.resolve(specifier);
  } catch (error) {
    return fail(
      `cannot resolve ${specifier} (${error.message}); run \`npm ci\` in the repository root`,
    );
  }
}

async function loadStrictSchemas() {
  const specUrl = resolveOrFail("discord-api-spec/zod");
  const zodUrl = resolveOrFail("zod/mini");
  const localesUrl = resolveOrFail("zod/locales");
  let source = readFileSync(fileURLToPath(specUrl), "utf8");

  const defaultLine = "let zObject = z.object;";
  if (source.split(defaultLine).length !== 2) {
    fail(`"${defaultLine}" not found exactly once in ${specUrl}; cannot make schemas strict`);
  }
  source = source.replace(defaultLine, "let zObject = z.strictObject;");
  const importLine = 'import * as z from "zod/mini";';
  if (source.split(importLine).length !== 2) {
    fail(`'${importLine}' not found exactly once in ${specUrl}`);
  }
  // The copy is imported from a data: URL, which cannot resolve bare specifiers: point the
  // import at the very zod/mini file the package itself would load.
  source = source.replace(importLine, `import * as z from ${JSON.stringify(zodUrl)};`);
  const applied = [];
  for (const quirk of QUIRKS) {
    let hits = 0;
    source = source.replace(quirk.find, (...match) => {
      hits += 1;
      return quirk.replace.replace(/\$(\d)/g, (_, n) => match[Number(n)]);
    });
    if (hits !== quirk.count) {
      fail(`quirk "${quirk.name}" applied ${hits} times, expected ${quirk.count}: update QUIRKS`);
    }
    applied.push(quirk.name);
  }

  const z = await import(zodUrl);
  const { en } = await import(localesUrl);
  z.config(en()); // readable messages instead of zod/mini's bare "Invalid input"
  const dataUrl = `data:text/javascript;base64,${Buffer.from(source).toString("base64")}`;
  const schemas = await import(dataUrl);

  // Prove strictness (and that quirks did not break the module) before serving anything.
  const pong = schemas.PongInteractionCallbackRequestSchema;
  if (!pong || !pong.safeParse({ type: 1 }).success) fail("PONG schema missing or broken");
  if (pong.safeParse({ type: 1, unexpected: true }).success) fail("schemas are not strict");
  return { schemas, tsPath: fileURLToPath(new URL("discord-api-spec.ts", specUrl)), applied };
}

// --- The route table, from the text of `export interface Paths { ... }` ---------------------

function splitTopLevel(text, separator) {
  const parts = [];
  let depth = 0;
  let current = "";
  for (const char of text) {
    if ("([{<".includes(char)) depth += 1;
    if (")]}>".includes(char)) depth -= 1;
    if (char === separator && depth === 0) {
      parts.push(current.trim());
      current = "";
    } else {
      current += char;
    }
  }
  parts.push(current.trim());
  return parts.filter((part) => part !== "");
}

function parseBodyType(raw) {
  const text = raw
    .replace(/\/\*[\s\S]*?\*\//g, " ")
    .replace(/\s+/g, " ")
    .trim()
    .replace(/;$/, "")
    .trim();
  if (text === "undefined" || text === "never") return { kind: "none", text };
  if (text.startsWith("{")) return { kind: "inline", text };
  const members = [];
  let nullable = false;
  for (const member of splitTopLevel(text, "|")) {
    if (member === "null") nullable = true;
    else if (member === "undefined") continue;
    else {
      const named = /^([A-Za-z_][A-Za-z0-9_]*)(\[\])?$/.exec(member);
      if (named) members.push({ name: named[1], array: Boolean(named[2]), text: member });
      else members.push({ name: null, array: false, text: member });
    }
  }
  const parts = [...members.map((member) => member.text), ...(nullable ? ["null"] : [])];
  return { kind: "named", text: parts.join(" | "), members, nullable };
}

function parseRoutes(tsText) {
  const start = tsText.indexOf("export interface Paths {");
  if (start < 0) fail("`export interface Paths {` not found in discord-api-spec.ts");
  const lines = tsText.slice(start).split("\n");
  const routes = new Map(); // template -> Map(METHOD -> body type)
  let template = null;
  let method = null;
  let collecting = null;
  for (const line of lines.slice(1)) {
    if (line === "}") break;
    if (collecting !== null) {
      // The body type ends where the next key of the operation object begins.
      if (/^ {6}[A-Za-z]+\??:/.test(line) || /^ {4}\};?$/.test(line)) {
        routes.get(template).set(method, parseBodyType(collecting));
        collecting = null;
      } else {
        collecting += `\n${line}`;
        continue;
      }
    }
    const pathMatch = /^ {2}"(\/[^"]*)": \{$/.exec(line);
    if (pathMatch) {
      template = pathMatch[1];
      routes.set(template, new Map());
      continue;
    }
    const methodMatch = /^ {4}(get|put|post|patch|delete|head|options): \{$/.exec(line);
    if (methodMatch) {
      method = methodMatch[1].toUpperCase();
      continue;
    }
    const bodyMatch = /^ {6}requestBody\??:(.*)$/.exec(line);
    if (bodyMatch && template && method) collecting = bodyMatch[1];
  }
  if (routes.size < 50) fail(`only ${routes.size} paths parsed from the Paths interface`);
  return [...routes].map(([path, methods]) => ({
    template: path,
    segments: path.split("/").slice(1),
    methods,
  }));
}

function normalisePath(path) {
  let rest = String(path);
  const scheme = /^[a-z]+:\/\/[^/]+/i.exec(rest);
  if (scheme) rest = rest.slice(scheme[0].length);
  rest = rest.split("#")[0].split("?")[0];
  rest = rest.replace(/^\/api(\/v\d+)?(?=\/|$)/, "");
  if (rest.length > 1) rest = rest.replace(/\/+$/, "");
  return rest;
}

function matchRoute(routes, path) {
  const segments = normalisePath(path).split("/").slice(1);
  let best = null;
  for (const route of routes) {
    if (route.segments.length !== segments.length) continue;
    let literals = 0;
    let matched = true;
    for (let i = 0; i < segments.length; i += 1) {
      const expected = route.segments[i];
      if (expected.startsWith("{") && expected.endsWith("}")) {
        if (segments[i] === "") matched = false;
      } else if (expected === segments[i]) {
        literals += 1;
      } else {
        matched = false;
      }
      if (!matched) break;
    }
    // The most literal segments wins: `/messages/@original` beats `/messages/{message_id}`.
    if (matched && (best === null || literals > best.literals)) best = { route, literals };
  }
  return best?.route ?? null;
}

// --- Validation --------------------------------------------------------------------------------

function formatPath(path) {
  let out = "";
  for (const key of path) out += typeof key === "number" ? `[${key}]` : out ? `.${key}` : key;
  return out || "(root)";
}

// How far a failed parse is from a match: a wrong discriminator (`type`) or a wrong value type
// at the root means "a different thing altogether"; anything else counts one per issue.
function distance(issues) {
  let total = 0;
  for (const issue of issues) {
    if (issue.code === "invalid_union" && issue.errors?.length) {
      total += Math.min(...issue.errors.map(distance));
    } else if (issue.code === "invalid_value" && issue.path.length === 1) {
      total += 1000;
    } else if (issue.code === "invalid_type" && issue.path.length === 0) {
      total += 1000;
    } else {
      total += 1;
    }
  }
  return total;
}

function describeIssues(issues, prefix = []) {
  const out = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === "invalid_union" && issue.errors?.length) {
      const closest = [...issue.errors].sort((a, b) => distance(a) - distance(b))[0];
      out.push(...describeIssues(closest, path));
    } else {
      out.push(`${formatPath(path)}: ${issue.message}`);
    }
  }
  return out;
}

function validateBody(schemas, bodyType, hasBody, body) {
  if (bodyType.kind === "none") {
    if (!hasBody) return { ok: true, schema: "(no body)", errors: [] };
    return { ok: false, schema: "(no body)", errors: ["the spec defines no request body here"] };
  }
  if (bodyType.kind === "inline") {
    return {
      ok: false,
      schema: bodyType.text,
      errors: ["the spec's body type is an inline object with no named zod schema; not checked"],
    };
  }
  const schemaText = bodyType.text;
  if (!hasBody) {
    return { ok: false, schema: schemaText, errors: [`missing body; expected ${schemaText}`] };
  }
  if (body === null) {
    if (bodyType.nullable) return { ok: true, schema: schemaText, errors: [] };
    return { ok: false, schema: schemaText, errors: [`null body; expected ${schemaText}`] };
  }
  const attempts = [];
  for (const member of bodyType.members) {
    const schema = member.name ? schemas[`${member.name}Schema`] : undefined;
    if (!schema) {
      attempts.push({
        member,
        distance: Number.POSITIVE_INFINITY,
        errors: [`no zod schema for spec type ${member.text}`],
      });
      continue;
    }
    if (member.array && !Array.isArray(body)) {
      attempts.push({ member, distance: 1000, errors: ["(root): expected an array"] });
      continue;
    }
    const items = member.array ? body : [body];
    const issues = [];
    items.forEach((item, index) => {
      const result = schema.safeParse(item);
      if (!result.success) {
        for (const issue of result.error.issues) {
          issues.push({ ...issue, path: member.array ? [index, ...issue.path] : issue.path });
        }
      }
    });
    if (issues.length === 0) return { ok: true, schema: schemaText, matched: member.text, errors: [] };
    attempts.push({ member, distance: distance(issues), errors: describeIssues(issues) });
  }
  if (attempts.length === 0) {
    return { ok: false, schema: schemaText, errors: [`no usable member in ${schemaText}`] };
  }
  attempts.sort((a, b) => a.distance - b.distance);
  const closest = attempts[0];
  const errors =
    attempts.length > 1
      ? closest.errors.map((error) => `${error} [closest: ${closest.member.text}]`)
      : [...closest.errors];
  if (attempts.length > 1 && closest.distance >= 1000) {
    errors.unshift(`(root): matches none of ${schemaText} (not even on its type)`);
  }
  return { ok: false, schema: schemaText, closest: closest.member.text, errors };
}

function handle(state, request) {
  const { routes, schemas } = state;
  const hasBody = Object.prototype.hasOwnProperty.call(request, "body");
  if (request.kind === "interaction_response") {
    const route = routes.find((r) => r.template === INTERACTION_CALLBACK);
    const bodyType = route?.methods.get("POST");
    if (!bodyType) return { ok: false, errors: [`POST ${INTERACTION_CALLBACK} not in the spec`] };
    return { route: `POST ${INTERACTION_CALLBACK}`, ...validateBody(schemas, bodyType, hasBody, request.body) };
  }
  if (request.kind !== undefined && request.kind !== "request" && request.kind !== "describe") {
    return { ok: false, errors: [`unknown kind ${JSON.stringify(request.kind)}`] };
  }
  if (typeof request.method !== "string" || typeof request.path !== "string") {
    return { ok: false, errors: ["a request needs string `method` and `path`"] };
  }
  const method = request.method.toUpperCase();
  const route = matchRoute(routes, request.path);
  if (!route) {
    return { ok: false, errors: [`unknown route: no path template in the spec matches ${request.path}`] };
  }
  const bodyType = route.methods.get(method);
  const label = `${method} ${route.template}`;
  if (!bodyType) {
    const allowed = [...route.methods.keys()].join(", ");
    return { ok: false, route: label, errors: [`unknown route: ${label} (allowed: ${allowed})`] };
  }
  if (request.kind === "describe") {
    return { ok: true, route: label, schema: bodyType.text, body_kind: bodyType.kind, errors: [] };
  }
  return { route: label, ...validateBody(schemas, bodyType, hasBody, request.body) };
}

async function main() {
  const loaded = await loadStrictSchemas();
  const routes = parseRoutes(readFileSync(loaded.tsPath, "utf8"));
  const state = { routes, schemas: loaded.schemas };
  const write = (answer) => process.stdout.write(`${JSON.stringify(answer)}\n`);
  write({ ready: true, routes: routes.length, quirks: loaded.applied });

  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === "") continue;
    let request;
    try {
      request = JSON.parse(line);
    } catch (error) {
      write({ id: null, ok: false, errors: [`request is not JSON: ${error.message}`] });
      continue;
    }
    let answer;
    try {
      answer = handle(state, request ?? {});
    } catch (error) {
      answer = { ok: false, errors: [`validator error: ${error.stack ?? error}`] };
    }
    write({ id: request?.id ?? null, ...answer });
  }
}

main().catch((error) => fail(error.stack ?? String(error)));
