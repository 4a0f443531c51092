#!/usr/bin/env node
// Fuzz target for the lab API server's request parsing (tools/apiserver): random methods, paths,
// queries (label and field selectors, paging, options), content types and bodies (mutated real
// objects, random JSON, YAML, protobuf-ish bytes) sent over HTTPS to a real server. A request
// the server cannot handle must be a 4xx Status, never a 500 (an exception it did not expect),
// a hang or a dead server. Seeds in fuzz/corpus/apiserver_request are replayed first.
// Usage: node fuzz/apiserver_request.js [--seconds N] [--seed S]
'use strict';

const fs = require('fs');
const path = require('path');

const kApiserver = path.resolve(__dirname, '..', 'tools', 'apiserver');
const fc = require(path.join(kApiserver, 'node_modules', 'fast-check'));
const { startServer } = require(path.join(kApiserver, 'testing', 'harness'));
const kCorpus = path.join(__dirname, 'corpus', 'apiserver_request');
const kRequestTimeoutMs = 5000;

function argument(name, fallback) {
  const index = process.argv.indexOf(name);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

const seeds = fs.readdirSync(kCorpus).sort().map((file) => JSON.parse(fs.readFileSync(path.join(kCorpus, file), 'utf8')));
const seedBodies = seeds.map((seed) => seed.body).filter((body) => body && typeof body === 'object');

// Paths: real prefixes and resources, with random segments mixed in. Never a watch: it would
// stream until its timeout and say nothing about parsing.
const segment = fc.oneof(
  fc.constantFrom('namespaces', 'default', 'prod', 'pods', 'nodes', 'egresses', 'externalippools',
    'leases', 'events', 'services', 'status', 'scale', 'node01', 'web-1', 'customresourcedefinitions'),
  fc.string({ maxLength: 12 }).filter((text) => !text.includes('watch')).map(encodeURIComponent));
const prefix = fc.constantFrom('/api/v1', '/apis/crd.antrea.io/v1beta1', '/apis/crd.antrea.io/v1alpha2',
  '/apis/coordination.k8s.io/v1', '/apis/apiextensions.k8s.io/v1', '/apis', '/api', '/openapi/v3',
  '/openapi/v2', '/version', '/apis/crd.antrea.io', '/healthz');
const urlPath = fc.tuple(prefix, fc.array(segment, { maxLength: 4 })).map(([p, rest]) => [p, ...rest].join('/'));

const selectorText = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.array(fc.oneof(
    fc.tuple(fc.string({ maxLength: 8 }), fc.constantFrom('=', '==', '!=', ' in ', ' notin '), fc.string({ maxLength: 8 }))
      .map(([k, op, v]) => `${k}${op}${op.includes('in') ? `(${v})` : v}`),
    fc.string({ maxLength: 8 }).map((k) => `!${k}`)), { maxLength: 4 }).map((parts) => parts.join(',')));
const queryValue = fc.oneof(selectorText, fc.integer().map(String), fc.constantFrom('', 'true', 'All', '0', '-1', 'NotOlderThan', 'Exact', 'Foreground'));
const query = fc.dictionary(
  fc.constantFrom('labelSelector', 'fieldSelector', 'limit', 'continue', 'resourceVersion', 'resourceVersionMatch',
    'fieldManager', 'dryRun', 'propagationPolicy', 'force', 'allowWatchBookmarks', 'fieldValidation', 'pretty'),
  queryValue, { maxKeys: 4 });

const contentType = fc.constantFrom(undefined, 'application/json', 'application/merge-patch+json',
  'application/json-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml',
  'application/yaml', 'application/vnd.kubernetes.protobuf', 'text/plain', 'application/json; charset=utf-8');
const accept = fc.constantFrom(undefined, 'application/json', '*/*', 'application/yaml',
  'application/json;as=Table;v=v1;g=meta.k8s.io', 'application/vnd.kubernetes.protobuf',
  'application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io', 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');

// Bodies: a real object with one field replaced, random JSON, JSON patches, or raw bytes.
function mutate(object, pathKeys, value) {
  const copy = JSON.parse(JSON.stringify(object));
  let node = copy;
  for (const key of pathKeys.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return copy;
    node = node[key];
  }
  if (node !== null && typeof node === 'object' && pathKeys.length) node[pathKeys[pathKeys.length - 1]] = value;
  return copy;
}
const fieldPath = fc.array(fc.constantFrom('metadata', 'spec', 'status', 'name', 'namespace', 'labels',
  'appliedTo', 'podSelector', 'matchLabels', 'matchExpressions', 'egressIP', 'ipRanges', 'nodeSelector',
  'resourceVersion', 'kind', 'apiVersion', 'containers', 0, 1, 'finalizers', 'generateName'), { minLength: 1, maxLength: 5 });
const body = fc.oneof(
  seedBodies.length
    ? fc.tuple(fc.constantFrom(...seedBodies), fieldPath, fc.jsonValue({ maxDepth: 2 })).map(([seed, p, v]) => JSON.stringify(mutate(seed, p, v)))
    : fc.constant('{}'),
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  fc.array(fc.record({ op: fc.constantFrom('add', 'remove', 'replace', 'move', 'copy', 'test', 'x'),
    path: fc.string({ maxLength: 20 }), from: fc.string({ maxLength: 10 }), value: fc.jsonValue({ maxDepth: 1 }) },
  { requiredKeys: ['op'] }), { maxLength: 3 }).map((ops) => JSON.stringify(ops)),
  fc.string({ maxLength: 80 }),
  fc.uint8Array({ maxLength: 80 }).map((bytes) => Buffer.from(bytes)));
const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
  path: urlPath, query, contentType, accept,
  body: fc.option(body, { nil: undefined }),
});

function send(server, { method, path: requestPath, query: params = {}, contentType: type, accept: acceptHeader, body: payload }) {
  const search = new URLSearchParams(params).toString();
  const headers = {};
  if (acceptHeader) headers.Accept = acceptHeader;
  const options = { headers, contentType: type };
  if (payload !== undefined) options.body = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
  let timer;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${kRequestTimeoutMs} ms`)), kRequestTimeoutMs); });
  return Promise.race([server.request(method, search ? `${requestPath}?${search}` : requestPath, options), timeout])
    .finally(() => clearTimeout(timer));
}

async function check(server, input) {
  const response = await send(server, input);
  if (response.status >= 500) throw new Error(`status ${response.status}: ${response.text.slice(0, 300)}`);
  if (server.child.exitCode !== null || server.child.signalCode !== null) throw new Error('the API server exited');
}

async function main() {
  const seconds = argument('--seconds', 20);
  const seed = argument('--seed', Date.now() % 2147483647);
  const server = await startServer({});
  let runs = 0;
  try {
    for (const input of seeds) { await check(server, input); runs++; }
    const deadline = Date.now() + seconds * 1000;
    await fc.assert(fc.asyncProperty(request, async (input) => { runs++; await check(server, input); }), {
      seed, numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: Math.max(0, deadline - Date.now()),
      markInterruptAsFailure: false, endOnFailure: true,
    });
    console.log(`apiserver_request: passed (${runs} requests in ${seconds} s, seed ${seed})`);
  } catch (err) {
    console.log(`apiserver_request: FAILED (seed ${seed}; replay with --seed ${seed}): ${String(err.message).split('\n').slice(0, 12).join('\n')}`);
    if (server.log) console.log(server.log.split('\n').filter((line) => line.includes('internal error')).slice(0, 5).join('\n'));
    process.exitCode = 1;
  } finally {
    await server.stop();
  }
}

main();
