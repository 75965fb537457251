// A minimal Lambda Runtime API loop in Node.js itself: the "Node.js" row of
// BENCHMARKS.md, running the same handler file as the JavaScript guest
// (`_HANDLER` in `LAMBDA_TASK_ROOT`, an ES module) against the harness's
// fake Runtime API, with what a real runtime does per event (next, the
// handler, response) and nothing more (no context beyond the request id,
// no error path: the benchmark's handler does not fail).

import http from "node:http";
import path from "node:path";
import { pathToFileURL } from "node:url";

// Lambda gives `host:port`; cargo-lambda's emulator a URL with a path prefix.
const api = process.env.AWS_LAMBDA_RUNTIME_API;
const base = new URL(api.includes("://") ? api : `http://${api}`);
const prefix = base.pathname.replace(/\/$/, "");
const [file, name] = process.env._HANDLER.split(".");
const module = await import(pathToFileURL(path.join(process.env.LAMBDA_TASK_ROOT, `${file}.mjs`)).href);
const handler = module[name];
const agent = new http.Agent({ keepAlive: true });

function request(method, route, body) {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(body) };
    const req = http.request({ host: base.hostname, port: base.port, method, path: `${prefix}/2018-06-01/runtime/${route}`, agent, headers }, (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

for (;;) {
  const next = await request("GET", "invocation/next");
  const id = next.headers["lambda-runtime-aws-request-id"];
  const result = await handler(JSON.parse(next.body), { awsRequestId: id });
  await request("POST", `invocation/${id}/response`, JSON.stringify(result ?? null));
}
