// Pure logic of the lab API server without sockets: selectors, the CEL subset, patches, schemas.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const selectors = require('../lib/selectors');
const cel = require('../lib/cel');
const patch = require('../lib/patch');
const schema = require('../lib/schema');
const table = require('../lib/table');
const { compareVersions } = require('../lib/registry');

test('label selectors parse every operator and match like Kubernetes', () => {
  const match = (text, labels) => selectors.matchesLabels(selectors.parseLabelSelector(text), labels);
  assert.ok(match('a=1,b==2', { a: '1', b: '2' }));
  assert.ok(!match('a=1', { a: '2' }));
  assert.ok(match('a!=1', {}), '!= matches a missing key');
  assert.ok(match('a in (1, 2),b notin (3)', { a: '2' }));
  assert.ok(!match('a in (1,2)', {}));
  assert.ok(match('a,!b', { a: '' }));
  assert.ok(match('', { any: 'thing' }));
  assert.throws(() => selectors.parseLabelSelector('a b c'), /unable to parse requirement/);
  const fields = selectors.parseFieldSelector('spec.nodeName=n1,metadata.name!=x');
  assert.ok(selectors.matchesFields(fields, { metadata: { name: 'y' }, spec: { nodeName: 'n1' } }));
  assert.throws(() => selectors.checkFieldSelector(fields, ['metadata.name']), /not a known field selector/);
});

test('CEL subset: logic, arithmetic, strings, lists, macros, ip and errors', () => {
  const run = (source, self) => cel.evaluate(cel.compile(source), { self });
  assert.equal(run('has(self.a) && !has(self.b)', { a: 1 }), true);
  assert.equal(run('self.a + 2 * 3 == 7 && self.a / 2 == 0', { a: 1 }), true);
  assert.equal(run("self.s.split('.')[1] == 'b' && int('12') > 11", { s: 'a.b.c' }), true);
  assert.equal(run('size(self.l) == 2 && self.l.all(x, x > 0) && self.l.exists(x, x == 2)', { l: [1, 2] }), true);
  assert.equal(run('self.l.filter(x, x > 1).size() == 1 && self.l.map(x, x * 2)[1] == 4', { l: [1, 2] }), true);
  assert.equal(run("ip(self.a) < ip(self.b) && cidr('10.0.0.0/8').containsIP(self.a) && isIP(self.a)", { a: '10.0.0.1', b: '10.0.0.2' }), true);
  assert.equal(run("self.x == 'a' ? 1 : 2", { x: 'a' }), 1);
  assert.equal(run('self.missing == 1 || true', {}), true, 'errors are absorbed when the other side decides');
  assert.throws(() => run('self.missing == 1', {}), /no such key/);
  assert.throws(() => cel.compile('self.a <'), cel.CelError);
  assert.throws(() => cel.compile('frobnicate(self)'), /undeclared reference/);
});

test('merge, JSON and strategic merge patches', () => {
  assert.deepEqual(patch.mergePatch({ a: 1, b: { c: 2, d: 3 } }, { a: null, b: { c: 4 } }), { b: { c: 4, d: 3 } });
  assert.deepEqual(patch.jsonPatch({ l: [1, 2] }, [{ op: 'add', path: '/l/1', value: 9 }, { op: 'remove', path: '/l/0' }]), { l: [9, 2] });
  assert.throws(() => patch.jsonPatch({ a: 1 }, [{ op: 'test', path: '/a', value: 2 }]), /testing value/);
  const merged = patch.strategicMerge(
    { spec: { containers: [{ name: 'a', image: '1' }, { name: 'b', image: '1' }] }, metadata: { finalizers: ['x'] } },
    { spec: { containers: [{ name: 'b', $patch: 'delete' }, { name: 'c', image: '2' }] }, metadata: { finalizers: ['y'] } },
  );
  assert.deepEqual(merged.spec.containers, [{ name: 'a', image: '1' }, { name: 'c', image: '2' }]);
  assert.deepEqual(merged.metadata.finalizers, ['x', 'y']);
  const ordered = patch.strategicMerge({ spec: { containers: [{ name: 'a' }, { name: 'b' }] } },
    { spec: { '$setElementOrder/containers': [{ name: 'b' }, { name: 'a' }], containers: [{ name: 'a', image: 'n' }] } });
  assert.deepEqual(ordered.spec.containers.map((c) => c.name), ['b', 'a']);
});

test('server-side apply: ownership, removal of dropped fields and conflicts', () => {
  const first = patch.serverSideApply({ current: null, applied: { metadata: { name: 'x' }, spec: { a: 1, b: 2 } }, manager: 'm1', scope: 'main', apiVersion: 'v1' });
  assert.deepEqual(first.object.spec, { a: 1, b: 2 });
  const second = patch.serverSideApply({ current: first.object, applied: { metadata: { name: 'x' }, spec: { a: 1 } }, manager: 'm1', scope: 'main', apiVersion: 'v1' });
  assert.deepEqual(second.object.spec, { a: 1 });
  const conflict = patch.serverSideApply({ current: second.object, applied: { metadata: { name: 'x' }, spec: { a: 5 } }, manager: 'm2', scope: 'main', apiVersion: 'v1' });
  assert.equal(conflict.conflicts.length, 1);
  assert.deepEqual(conflict.conflicts[0].path, ['spec', 'a']);
  const same = patch.serverSideApply({ current: second.object, applied: { metadata: { name: 'x' }, spec: { a: 1 } }, manager: 'm2', scope: 'main', apiVersion: 'v1' });
  assert.equal(same.conflicts, undefined, 'applying the same value is shared ownership, not a conflict');
});

test('structural schemas: pruning, defaults and nullable', () => {
  const s = {
    type: 'object',
    properties: {
      spec: { type: 'object', properties: { keep: { type: 'string' }, d: { type: 'integer', default: 3 }, n: { type: 'string', nullable: true } } },
      open: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    },
  };
  const object = { apiVersion: 'v', kind: 'K', metadata: { name: 'a', bogus: 1 }, spec: { keep: 'x', drop: 1, n: null }, open: { any: 1 }, top: 2 };
  const unknown = [];
  schema.prune(s, object, '', unknown, true);
  assert.deepEqual(unknown.sort(), ['metadata.bogus', 'spec.drop', 'top']);
  schema.applyDefaults(s, object);
  assert.deepEqual(object.spec, { keep: 'x', n: null, d: 3 });
  assert.deepEqual(object.open, { any: 1 });
  const causes = [];
  schema.validateNode(s, object, '', causes);
  assert.deepEqual(causes, []);
});

test('tables: human-readable ages, JSONPath cells, version priority', () => {
  assert.equal(table.humanDuration(59 * 1000), '59s');
  assert.equal(table.humanDuration(5 * 60 * 1000 + 3000), '5m3s');
  assert.equal(table.humanDuration(3 * 3600 * 1000), '3h');
  assert.equal(table.humanDuration(3 * 86400 * 1000), '3d');
  assert.deepEqual(table.jsonPathResults({ status: { c: [{ type: 'A', s: 1 }, { type: 'B', s: 2 }] } }, '.status.c[?(@.type=="B")].s'), [2]);
  assert.deepEqual(['v1alpha2', 'v2', 'v1beta1', 'v1'].sort(compareVersions), ['v2', 'v1', 'v1beta1', 'v1alpha2']);
});
