// Watches: initial ADDED events, replay from a resourceVersion, bookmarks, 410 Gone beyond the
// history, selectors (objects leaving a selector are DELETED), timeouts, and kubectl get --watch.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { withServer, kTestCrd, waitFor } = require('../testing/harness');

const kConfigMaps = '/api/v1/namespaces/default/configmaps';

function configMap(name, labels = {}, data = {}) {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels }, data };
}

test('a watch without resourceVersion starts with ADDED events, then streams changes in order', () => withServer({}, async (server) => {
  await server.request('POST', kConfigMaps, { body: configMap('before') });
  const stream = server.watch(`${kConfigMaps}?watch=1`);
  try {
    await stream.waitForEvent((e) => e.type === 'ADDED' && e.object.metadata.name === 'before');
    assert.equal(stream.status, 200);
    assert.equal(stream.events[0].object.kind, 'ConfigMap', 'watch objects carry their kind');
    const created = (await server.request('POST', kConfigMaps, { body: configMap('during') })).body;
    await server.request('PATCH', `${kConfigMaps}/during`, { body: { data: { a: '1' } }, contentType: 'application/merge-patch+json' });
    const deleted = await server.request('DELETE', `${kConfigMaps}/during`);
    assert.equal(deleted.status, 200);
    const removed = await stream.waitForEvent((e) => e.type === 'DELETED');
    const types = stream.events.filter((e) => e.object.metadata.name === 'during').map((e) => e.type);
    assert.deepEqual(types, ['ADDED', 'MODIFIED', 'DELETED']);
    const rvs = stream.events.map((e) => Number(e.object.metadata.resourceVersion));
    assert.deepEqual(rvs, [...rvs].sort((a, b) => a - b), 'events arrive in resourceVersion order');
    assert.ok(Number(removed.object.metadata.resourceVersion) > Number(created.metadata.resourceVersion), 'DELETED carries the deletion revision');
  } finally {
    stream.close();
  }
}));

test('a watch from a resourceVersion replays only later events', () => withServer({}, async (server) => {
  await server.request('POST', kConfigMaps, { body: configMap('old') });
  const list = (await server.request('GET', kConfigMaps)).body;
  await server.request('POST', kConfigMaps, { body: configMap('new') });
  const stream = server.watch(`${kConfigMaps}?watch=true&resourceVersion=${list.metadata.resourceVersion}`);
  try {
    await stream.waitForEvent((e) => e.object.metadata.name === 'new');
    assert.deepEqual(stream.events.map((e) => `${e.type}:${e.object.metadata.name}`), ['ADDED:new']);
  } finally {
    stream.close();
  }
}));

test('bookmarks arrive periodically with the current resourceVersion when allowed', () => withServer({}, async (server) => {
  const list = (await server.request('GET', kConfigMaps)).body;
  const stream = server.watch(`${kConfigMaps}?watch=1&resourceVersion=${list.metadata.resourceVersion}&allowWatchBookmarks=true`);
  try {
    const created = (await server.request('POST', '/api/v1/namespaces/kube-system/configmaps', { body: configMap('elsewhere') })).body;
    const bookmark = await stream.waitForEvent((e) => e.type === 'BOOKMARK' && Number(e.object.metadata.resourceVersion) >= Number(created.metadata.resourceVersion), 'a bookmark');
    assert.deepEqual(Object.keys(bookmark.object).sort(), ['apiVersion', 'kind', 'metadata']);
    assert.equal(bookmark.object.kind, 'ConfigMap');
    assert.ok(!stream.events.some((e) => e.type !== 'BOOKMARK'), 'other namespaces stay out of a namespaced watch');
  } finally {
    stream.close();
  }
  const plain = server.watch(`${kConfigMaps}?watch=1&resourceVersion=${list.metadata.resourceVersion}&timeoutSeconds=2`);
  await plain.waitForEnd();
  assert.ok(!plain.events.some((e) => e.type === 'BOOKMARK'), 'no bookmarks unless allowWatchBookmarks');
}));

test('a watch from a resourceVersion older than the history gets an ERROR event with 410 Gone', () => withServer({ args: ['--watch-cache-size', '3'] }, async (server) => {
  const first = (await server.request('POST', kConfigMaps, { body: configMap('c0') })).body;
  for (let i = 1; i <= 5; i++) await server.request('POST', kConfigMaps, { body: configMap(`c${i}`) });
  const stream = server.watch(`${kConfigMaps}?watch=1&resourceVersion=${first.metadata.resourceVersion}`);
  await stream.waitForEnd();
  assert.equal(stream.status, 200);
  assert.equal(stream.events.length, 1);
  const [event] = stream.events;
  assert.equal(event.type, 'ERROR');
  assert.equal(event.object.kind, 'Status');
  assert.equal(event.object.code, 410);
  assert.equal(event.object.reason, 'Expired');
  assert.match(event.object.message, /too old resource version/);
  const list = (await server.request('GET', kConfigMaps)).body;
  const fresh = server.watch(`${kConfigMaps}?watch=1&resourceVersion=${list.metadata.resourceVersion}`);
  try {
    await server.request('DELETE', `${kConfigMaps}/c5`);
    await fresh.waitForEvent((e) => e.type === 'DELETED');
  } finally {
    fresh.close();
  }
}));

test('selectors apply to watches; an object leaving the selector is DELETED, entering it ADDED', () => withServer({}, async (server) => {
  await server.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: kTestCrd });
  const base = '/apis/test.sluice.dev/v1/namespaces/default/widgets';
  const stream = server.watch(`${base}?watch=1&labelSelector=tier%3Dfront&fieldSelector=metadata.name!%3Dignored`);
  try {
    const make = (name, tier) => server.request('POST', base, { body: { apiVersion: 'test.sluice.dev/v1', kind: 'Widget', metadata: { name, labels: { tier } }, spec: { size: 1 } } });
    await make('ignored', 'front');
    await make('other', 'back');
    await make('w', 'front');
    await stream.waitForEvent((e) => e.object.metadata.name === 'w');
    await server.request('PATCH', `${base}/w`, { body: { metadata: { labels: { tier: 'back' } } }, contentType: 'application/merge-patch+json' });
    await stream.waitForEvent((e) => e.type === 'DELETED');
    await server.request('PATCH', `${base}/other`, { body: { metadata: { labels: { tier: 'front' } } }, contentType: 'application/merge-patch+json' });
    await stream.waitForEvent((e) => e.type === 'ADDED' && e.object.metadata.name === 'other');
    assert.deepEqual(stream.events.map((e) => `${e.type}:${e.object.metadata.name}`), ['ADDED:w', 'DELETED:w', 'ADDED:other']);
    assert.equal(stream.events[0].object.apiVersion, 'test.sluice.dev/v1');
  } finally {
    stream.close();
  }
}));

test('deleting a CRD ends the watches on its resources', () => withServer({}, async (server) => {
  await server.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: kTestCrd });
  const stream = server.watch('/apis/test.sluice.dev/v1/widgets?watch=1');
  await server.request('POST', '/apis/test.sluice.dev/v1/namespaces/default/widgets', { body: { apiVersion: 'test.sluice.dev/v1', kind: 'Widget', metadata: { name: 'x' }, spec: { size: 1 } } });
  await stream.waitForEvent((e) => e.type === 'ADDED');
  await server.request('DELETE', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.test.sluice.dev');
  await stream.waitForEnd();
  assert.deepEqual(stream.events.map((e) => e.type), ['ADDED', 'DELETED']);
}));

test('kubectl get --watch prints changes as they happen', () => withServer({}, async (server) => {
  const { spawn } = require('child_process');
  const child = spawn(process.env.KUBECTL || 'kubectl', ['--kubeconfig', server.kubeconfig, '--cache-dir', server.cacheDir, 'get', 'configmaps', '--watch', '--output-watch-events'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c) => { out += c; });
  try {
    await waitFor(() => /GET \/api\/v1\/namespaces\/default\/configmaps\?.*watch=true.* 200 watching/.test(server.log), { what: 'kubectl to start watching' });
    await server.request('POST', kConfigMaps, { body: configMap('watched', {}, { a: '1' }) });
    await waitFor(() => /ADDED\s+watched\s+1\s/.test(out), { what: 'kubectl to print the new ConfigMap' });
  } finally {
    process.kill(child.pid, 'SIGTERM');
  }
}));

test('watch response headers arrive before any event, as kube-apiserver flushes them', () => withServer({}, async (server) => {
  const list = (await server.request('GET', kConfigMaps)).body;
  const stream = server.watch(`${kConfigMaps}?watch=1&resourceVersion=${list.metadata.resourceVersion}`);
  try {
    await waitFor(() => stream.status === 200, { what: 'the watch response headers' });
    assert.equal(stream.events.length, 0);
  } finally {
    stream.close();
  }
}));

test('a watch from an old but valid resourceVersion works for a resource nobody wrote since', () => withServer({}, async (server) => {
  const list = (await server.request('GET', '/api/v1/nodes')).body;
  for (let i = 0; i < 3; i++) await server.request('POST', kConfigMaps, { body: configMap(`other${i}`) });
  const stream = server.watch(`/api/v1/nodes?watch=1&resourceVersion=${list.metadata.resourceVersion}`);
  try {
    await server.request('POST', '/api/v1/nodes', { body: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } } });
    const added = await stream.waitForEvent((e) => e.type !== 'BOOKMARK');
    assert.equal(added.type, 'ADDED', JSON.stringify(added));
  } finally {
    stream.close();
  }
}));
