// Object lifecycle: the status subresource, generation, kubectl wait, finalizers, optimistic
// concurrency, the patch types, server-side apply, selectors, generateName and restarts with --data.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { withServer, startServer, kRepoRoot, kTestCrd } = require('../testing/harness');

const kListing1 = path.join(kRepoRoot, 'tests', 'fixtures', 'thesis', 'listing1-egress.yml');
const kCrds = path.join(kRepoRoot, 'manifests', 'crds.yml');
const kWidgets = '/apis/test.sluice.dev/v1/namespaces/default/widgets';

function widget(name, spec, extra = {}) {
  return { apiVersion: 'test.sluice.dev/v1', kind: 'Widget', metadata: { name, ...extra }, spec, status: { phase: 'Ignored' } };
}

async function installTestCrd(server) {
  const result = await server.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: kTestCrd });
  assert.equal(result.status, 201, result.text);
}

test('status subresource: main writes ignore status, /status writes change only status, generation tracks spec', () => withServer({}, async (server) => {
  await installTestCrd(server);
  const created = (await server.request('POST', kWidgets, { body: widget('w', { size: 1 }) })).body;
  assert.equal(created.status, undefined, 'status is dropped on create');
  assert.equal(created.metadata.generation, 1);
  const statusPut = await server.request('PUT', `${kWidgets}/w/status`, { body: { ...created, spec: { size: 99 }, status: { phase: 'Ready' } } });
  assert.equal(statusPut.status, 200);
  assert.equal(statusPut.body.status.phase, 'Ready');
  assert.equal(statusPut.body.spec.size, 1, 'a /status write does not change spec');
  assert.equal(statusPut.body.metadata.generation, 1, 'a status change does not bump generation');
  const mainPut = await server.request('PUT', `${kWidgets}/w`, { body: { ...statusPut.body, spec: { size: 2 }, status: { phase: 'Hacked' } } });
  assert.equal(mainPut.status, 200, mainPut.text);
  assert.equal(mainPut.body.status.phase, 'Ready', 'a main write does not change status');
  assert.equal(mainPut.body.spec.size, 2);
  assert.equal(mainPut.body.metadata.generation, 2);
  assert.ok(Number(mainPut.body.metadata.resourceVersion) > Number(statusPut.body.metadata.resourceVersion));
  const labelOnly = await server.request('PATCH', `${kWidgets}/w`, { body: { metadata: { labels: { a: 'b' } } }, contentType: 'application/merge-patch+json' });
  assert.equal(labelOnly.body.metadata.generation, 2, 'metadata changes do not bump generation');
}));

test('kubectl wait sees a status set through a PATCH to /status', () => withServer({}, async (server) => {
  await server.kubectlOk(['apply', '-f', kCrds]);
  await server.kubectlOk(['apply', '-f', kListing1]);
  const waiting = server.kubectl(['wait', '--for=jsonpath={.status.egressNode}=node01', 'egress/egress-prod-web', '--timeout=20s']);
  const patch = await server.request('PATCH', '/apis/crd.antrea.io/v1beta1/egresses/egress-prod-web/status', {
    body: { status: { egressNode: 'node01', egressIP: '10.10.0.8' } }, contentType: 'application/merge-patch+json',
  });
  assert.equal(patch.status, 200, patch.text);
  const result = await waiting;
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /condition met/);
  const table = await server.kubectlOk(['get', 'eg']);
  assert.match(table, /\negress-prod-web +10\.10\.0\.8 +node01 +\d+s\n/);
  const viaKubectl = await server.kubectlOk(['patch', 'eg', 'egress-prod-web', '--subresource=status', '--type=merge', '-p', '{"status":{"egressNode":"node02"}}']);
  assert.match(viaKubectl, /patched/);
  assert.equal((await server.request('GET', '/apis/crd.antrea.io/v1alpha2/egresses/egress-prod-web')).body.status.egressNode, 'node02');
}));

test('finalizers: delete sets deletionTimestamp and the object goes when finalizers are emptied', () => withServer({}, async (server) => {
  await installTestCrd(server);
  await server.request('POST', kWidgets, { body: widget('f', { size: 1 }, { finalizers: ['sluice.dev/cleanup'] }) });
  const deleting = await server.request('DELETE', `${kWidgets}/f`);
  assert.equal(deleting.status, 200);
  assert.ok(deleting.body.metadata.deletionTimestamp);
  const still = await server.request('GET', `${kWidgets}/f`);
  assert.equal(still.status, 200);
  assert.ok(still.body.metadata.deletionTimestamp);
  const addMore = await server.request('PATCH', `${kWidgets}/f`, { body: [{ op: 'add', path: '/metadata/finalizers/-', value: 'another' }], contentType: 'application/json-patch+json' });
  assert.equal(addMore.status, 422, 'no new finalizers while deleting');
  const cleared = await server.request('PATCH', `${kWidgets}/f`, { body: { metadata: { finalizers: null } }, contentType: 'application/merge-patch+json' });
  assert.equal(cleared.status, 200, cleared.text);
  assert.equal((await server.request('GET', `${kWidgets}/f`)).status, 404);
}));

test('an update with a stale resourceVersion gets 409 Conflict', () => withServer({}, async (server) => {
  await installTestCrd(server);
  const first = (await server.request('POST', kWidgets, { body: widget('c', { size: 1 }) })).body;
  const second = await server.request('PUT', `${kWidgets}/c`, { body: { ...first, spec: { size: 2 } } });
  assert.equal(second.status, 200);
  const stale = await server.request('PUT', `${kWidgets}/c`, { body: { ...first, spec: { size: 3 } } });
  assert.equal(stale.status, 409);
  assert.equal(stale.body.reason, 'Conflict');
  assert.equal(stale.body.message, 'Operation cannot be fulfilled on widgets.test.sluice.dev "c": the object has been modified; please apply your changes to the latest version and try again');
  const stalePatch = await server.request('PATCH', `${kWidgets}/c`, { body: { metadata: { resourceVersion: first.metadata.resourceVersion }, spec: { size: 4 } }, contentType: 'application/merge-patch+json' });
  assert.equal(stalePatch.status, 409);
  const unconditional = await server.request('PUT', `${kWidgets}/c`, { body: { ...first, metadata: { name: 'c' }, spec: { size: 5 } } });
  assert.equal(unconditional.status, 200, 'an update without resourceVersion is unconditional');
}));

test('patch types: JSON patch, merge patch, strategic merge patch on built-ins, 415 for SMP on CRs', () => withServer({}, async (server) => {
  const pod = {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', labels: { app: 'a' }, finalizers: ['x/a'] },
    spec: { nodeName: 'n1', containers: [{ name: 'c1', image: 'busybox' }, { name: 'c2', image: 'busybox' }] },
  };
  const created = await server.request('POST', '/api/v1/namespaces/default/pods', { body: pod });
  assert.equal(created.status, 201);
  assert.equal(created.body.status.phase, 'Pending');
  const smp = await server.request('PATCH', '/api/v1/namespaces/default/pods/p', {
    body: { metadata: { finalizers: ['x/b'] }, spec: { containers: [{ name: 'c2', image: 'nginx' }] } }, contentType: 'application/strategic-merge-patch+json',
  });
  assert.equal(smp.status, 200, smp.text);
  assert.deepEqual(smp.body.spec.containers.map((c) => `${c.name}=${c.image}`), ['c1=busybox', 'c2=nginx']);
  assert.deepEqual(smp.body.metadata.finalizers, ['x/a', 'x/b']);
  const json = await server.request('PATCH', '/api/v1/namespaces/default/pods/p', {
    body: [{ op: 'replace', path: '/metadata/labels/app', value: 'b' }, { op: 'remove', path: '/metadata/finalizers' }], contentType: 'application/json-patch+json',
  });
  assert.equal(json.body.metadata.labels.app, 'b');
  assert.equal(json.body.metadata.finalizers, undefined);
  const merge = await server.request('PATCH', '/api/v1/namespaces/default/pods/p', { body: { metadata: { labels: { app: null, tier: 'web' } } }, contentType: 'application/merge-patch+json' });
  assert.deepEqual(merge.body.metadata.labels, { tier: 'web' });
  const labelled = await server.kubectlOk(['label', 'pod', 'p', 'env=prod']);
  assert.match(labelled, /labeled/);
  await installTestCrd(server);
  await server.request('POST', kWidgets, { body: widget('s', { size: 1 }) });
  const smpOnCr = await server.request('PATCH', `${kWidgets}/s`, { body: { spec: { size: 2 } }, contentType: 'application/strategic-merge-patch+json' });
  assert.equal(smpOnCr.status, 415);
}));

test('server-side apply with kubectl creates, is idempotent, removes dropped fields, reports conflicts', () => withServer({}, async (server) => {
  await installTestCrd(server);
  const manifest = (spec) => `apiVersion: test.sluice.dev/v1\nkind: Widget\nmetadata:\n  name: ssa\n  namespace: default\n  labels:\n    owner: me\nspec:\n${spec}`;
  const first = await server.kubectlOk(['apply', '--server-side', '-f', '-'], { input: manifest('  size: 3\n  color: red\n') });
  assert.match(first, /widget.test.sluice.dev\/ssa serverside-applied/);
  const rv = (await server.request('GET', `${kWidgets}/ssa`)).body.metadata.resourceVersion;
  await server.kubectlOk(['apply', '--server-side', '-f', '-'], { input: manifest('  size: 3\n  color: red\n') });
  assert.equal((await server.request('GET', `${kWidgets}/ssa`)).body.metadata.resourceVersion, rv, 'a re-apply is a no-op');
  await server.kubectlOk(['apply', '--server-side', '-f', '-'], { input: manifest('  size: 4\n') });
  const after = (await server.request('GET', `${kWidgets}/ssa`)).body;
  assert.deepEqual(after.spec, { size: 4, limit: 50 });
  assert.equal(after.metadata.labels.owner, 'me');
  const conflict = await server.kubectl(['apply', '--server-side', '--field-manager=other', '-f', '-'], { input: manifest('  size: 5\n') });
  assert.notEqual(conflict.code, 0);
  assert.match(conflict.stderr, /conflict with "kubectl"/);
  const forced = await server.kubectlOk(['apply', '--server-side', '--force-conflicts', '--field-manager=other', '-f', '-'], { input: manifest('  size: 5\n') });
  assert.match(forced, /serverside-applied/);
  assert.equal((await server.request('GET', `${kWidgets}/ssa`)).body.spec.size, 5);
  const statusApply = await server.request('PATCH', `${kWidgets}/ssa/status?fieldManager=ctrl`, {
    body: JSON.stringify({ apiVersion: 'test.sluice.dev/v1', kind: 'Widget', metadata: { name: 'ssa' }, status: { phase: 'Ready' } }), contentType: 'application/apply-patch+yaml',
  });
  assert.equal(statusApply.status, 200, statusApply.text);
  assert.equal(statusApply.body.status.phase, 'Ready');
  assert.equal(statusApply.body.spec.size, 5);
}));

test('label and field selectors filter lists, through kubectl and the API', () => withServer({}, async (server) => {
  const pod = (name, labels, nodeName) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, labels }, spec: { nodeName, containers: [{ name: 'c', image: 'i' }] } });
  await server.request('POST', '/api/v1/namespaces/default/pods', { body: pod('a', { role: 'web', env: 'prod' }, 'n1') });
  await server.request('POST', '/api/v1/namespaces/default/pods', { body: pod('b', { role: 'db', env: 'prod' }, 'n2') });
  await server.request('POST', '/api/v1/namespaces/kube-system/pods', { body: pod('c', { role: 'web' }, 'n1') });
  const names = async (query) => (await server.request('GET', `/api/v1/pods?${query}`)).body.items.map((p) => p.metadata.name).sort().join(',');
  assert.equal(await names('labelSelector=role%3Dweb'), 'a,c');
  assert.equal(await names('labelSelector=role%3D%3Dweb,env'), 'a');
  assert.equal(await names('labelSelector=role!%3Dweb'), 'b');
  assert.equal(await names('labelSelector=role%20in%20(db,cache)'), 'b');
  assert.equal(await names('labelSelector=role%20notin%20(db)'), 'a,c');
  assert.equal(await names('labelSelector=!env'), 'c');
  assert.equal(await names('fieldSelector=spec.nodeName%3Dn1'), 'a,c');
  assert.equal(await names('fieldSelector=spec.nodeName%3Dn1,metadata.namespace!%3Ddefault'), 'c');
  assert.equal(await names('fieldSelector=metadata.name%3Db'), 'b');
  const bad = await server.request('GET', '/api/v1/pods?fieldSelector=spec.bogus%3Dx');
  assert.equal(bad.status, 400);
  const out = await server.kubectlOk(['get', 'pods', '-A', '-l', 'role=web', '--field-selector', 'spec.nodeName=n1', '-o', 'name']);
  assert.equal(out, 'pod/a\npod/c\n');
}));

test('generateName makes unique names; dryRun stores nothing', () => withServer({}, async (server) => {
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { generateName: 'gen-' } };
  const a = await server.request('POST', '/api/v1/namespaces/default/configmaps', { body: cm });
  const b = await server.request('POST', '/api/v1/namespaces/default/configmaps', { body: cm });
  assert.match(a.body.metadata.name, /^gen-[a-z0-9]{5}$/);
  assert.notEqual(a.body.metadata.name, b.body.metadata.name);
  const dry = await server.request('POST', '/api/v1/namespaces/default/configmaps?dryRun=All', { body: { ...cm, metadata: { name: 'dry' } } });
  assert.equal(dry.status, 201);
  assert.equal((await server.request('GET', '/api/v1/namespaces/default/configmaps/dry')).status, 404);
}));

test('a restart with --data keeps objects and resourceVersions keep increasing', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-apiserver-restart-'));
  const dataDir = path.join(dir, 'data');
  try {
    let server = await startServer({ dataDir, dir });
    await installTestCrd(server);
    const created = (await server.request('POST', kWidgets, { body: widget('keep', { size: 7 }) })).body;
    const kubeconfigBefore = fs.readFileSync(server.kubeconfig, 'utf8');
    await server.stop();
    server = await startServer({ dataDir, dir });
    try {
      assert.equal(/token: (\S+)/.exec(fs.readFileSync(server.kubeconfig, 'utf8'))[1], /token: (\S+)/.exec(kubeconfigBefore)[1], 'the token survives');
      const kept = await server.request('GET', `${kWidgets}/keep`);
      assert.equal(kept.status, 200, 'the CRD and its objects survive');
      assert.equal(kept.body.metadata.uid, created.metadata.uid);
      assert.equal(kept.body.metadata.resourceVersion, created.metadata.resourceVersion);
      const updated = await server.request('PUT', `${kWidgets}/keep`, { body: { ...kept.body, spec: { size: 8 } } });
      assert.ok(Number(updated.body.metadata.resourceVersion) > Number(created.metadata.resourceVersion));
      const list = await server.request('GET', '/api/v1/namespaces');
      assert.ok(Number(list.body.metadata.resourceVersion) >= Number(updated.body.metadata.resourceVersion));
      const out = await server.kubectlOk(['get', 'widgets', '-n', 'default', '-o', 'name']);
      assert.equal(out, 'widget.test.sluice.dev/keep\n');
    } finally {
      await server.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGTERM stops the server quickly and cleanly', () => withServer({}, async (server) => {
  const stream = server.watch('/api/v1/namespaces?watch=1');
  await stream.waitForEvent((e) => e.type === 'ADDED');
  const started = Date.now();
  const result = await server.stop();
  assert.equal(result.code, 0);
  assert.ok(Date.now() - started < 2000);
}));

test('limit and continue page through a list at the first page\'s resourceVersion', () => withServer({ args: ['--watch-cache-size', '20'] }, async (server) => {
  for (let i = 0; i < 7; i++) {
    await server.request('POST', '/api/v1/namespaces/default/configmaps', { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `p${i}` } } });
  }
  const seen = [];
  let token = '';
  let firstRv = null;
  for (let pages = 0; pages < 10; pages++) {
    const query = `limit=3${token ? `&continue=${encodeURIComponent(token)}` : ''}`;
    const page = (await server.request('GET', `/api/v1/namespaces/default/configmaps?${query}`)).body;
    firstRv = firstRv || page.metadata.resourceVersion;
    assert.equal(page.metadata.resourceVersion, firstRv);
    seen.push(...page.items.map((i) => i.metadata.name));
    if (pages === 0) {
      assert.equal(page.metadata.remainingItemCount, 4);
      await server.request('POST', '/api/v1/namespaces/default/configmaps', { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'p9' } } });
    }
    token = page.metadata.continue;
    if (!token) break;
  }
  assert.deepEqual(seen, ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p9']);
  const out = await server.kubectlOk(['get', 'configmaps', '--chunk-size=2', '-o', 'name']);
  assert.equal(out.trim().split('\n').length, 8);
  const first = (await server.request('GET', '/api/v1/namespaces/default/configmaps?limit=1')).body;
  for (let i = 0; i < 25; i++) await server.request('PATCH', '/api/v1/namespaces/default/configmaps/p9', { body: { data: { i: String(i) } }, contentType: 'application/merge-patch+json' });
  const expired = await server.request('GET', `/api/v1/namespaces/default/configmaps?limit=1&continue=${encodeURIComponent(first.metadata.continue)}`);
  assert.equal(expired.status, 410);
  assert.equal(expired.body.reason, 'Expired');
}));
