// Validation of custom resources against structural schemas and CEL rules, with kube-apiserver's
// 422 field errors: Sluice's CRDs (bad IP, start > end, egressIP with egressIPs) and a test CRD.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const YAML = require('yaml');
const { withServer, kRepoRoot, kTestCrd } = require('../testing/harness');

const kCrds = path.join(kRepoRoot, 'manifests', 'crds.yml');

async function installCrds(server) {
  for (const crd of YAML.parseAllDocuments(fs.readFileSync(kCrds, 'utf8')).map((d) => d.toJS()).filter(Boolean)) {
    const result = await server.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd });
    assert.equal(result.status, 201, result.text);
  }
}

function egress(name, spec) {
  return { apiVersion: 'crd.antrea.io/v1beta1', kind: 'Egress', metadata: { name }, spec: { appliedTo: { podSelector: {} }, ...spec } };
}

function pool(name, ipRanges) {
  return { apiVersion: 'crd.antrea.io/v1beta1', kind: 'ExternalIPPool', metadata: { name }, spec: { ipRanges } };
}

test('an Egress with a bad IP is rejected with a field error naming spec.egressIP', () => withServer({}, async (server) => {
  await installCrds(server);
  const result = await server.request('POST', '/apis/crd.antrea.io/v1beta1/egresses', { body: egress('bad-ip', { egressIP: '10.0.0.300' }) });
  assert.equal(result.status, 422);
  assert.equal(result.body.reason, 'Invalid');
  assert.match(result.body.message, /^Egress\.crd\.antrea\.io "bad-ip" is invalid: /);
  const cause = result.body.details.causes.find((c) => c.message.includes('ipv4'));
  assert.deepEqual(cause, {
    reason: 'FieldValueInvalid', field: 'spec.egressIP',
    message: 'Invalid value: "10.0.0.300": spec.egressIP in body must be of type ipv4: "10.0.0.300"',
  });
  const kubectl = await server.kubectl(['apply', '-f', '-'], { input: YAML.stringify({ ...egress('bad-ip', { egressIP: '10.0.0.300' }), apiVersion: 'crd.antrea.io/v1alpha2' }) });
  assert.notEqual(kubectl.code, 0);
  assert.match(kubectl.stderr, /The Egress "bad-ip" is invalid/);
  assert.match(kubectl.stderr, /spec\.egressIP: Invalid value: "10\.0\.0\.300"/);
}));

test('an ExternalIPPool range with start > end is rejected', () => withServer({}, async (server) => {
  await installCrds(server);
  const result = await server.request('POST', '/apis/crd.antrea.io/v1beta1/externalippools', { body: pool('backwards', [{ start: '10.0.0.9', end: '10.0.0.1' }]) });
  assert.equal(result.status, 422);
  assert.deepEqual(result.body.details.causes, [{
    reason: 'FieldValueInvalid', field: 'spec.ipRanges[0]', message: 'Invalid value: "object": ipRanges start must not be greater than end',
  }]);
  const ok = await server.request('POST', '/apis/crd.antrea.io/v1beta1/externalippools', { body: pool('forwards', [{ start: '10.0.0.1', end: '10.0.0.9' }]) });
  assert.equal(ok.status, 201, ok.text);
  const both = await server.request('POST', '/apis/crd.antrea.io/v1beta1/externalippools', { body: pool('both', [{ cidr: '10.0.0.0/24', start: '10.0.0.1', end: '10.0.0.2' }]) });
  assert.equal(both.status, 422);
  assert.ok(both.body.details.causes.some((c) => /oneOf/.test(c.message)), both.text);
  const empty = await server.request('POST', '/apis/crd.antrea.io/v1beta1/externalippools', { body: pool('empty', []) });
  assert.equal(empty.status, 422);
  assert.match(empty.body.details.causes[0].message, /should have at least 1 items/);
}));

test('an Egress with both egressIP and egressIPs is rejected by its CEL rule', () => withServer({}, async (server) => {
  await installCrds(server);
  const result = await server.request('POST', '/apis/crd.antrea.io/v1beta1/egresses', { body: egress('both', { egressIP: '10.0.0.1', egressIPs: ['10.0.0.2'] }) });
  assert.equal(result.status, 422);
  const cause = result.body.details.causes.find((c) => c.field === 'spec');
  assert.equal(cause.reason, 'FieldValueInvalid');
  assert.match(cause.message, /^Invalid value: "object": set either spec\.egressIP \(one IP\) or spec\.egressIPs/);
  const none = await server.request('POST', '/apis/crd.antrea.io/v1beta1/egresses', { body: egress('none', {}) });
  assert.equal(none.status, 422);
  assert.match(none.body.message, /set spec\.externalIPPool/);
  const missing = await server.request('POST', '/apis/crd.antrea.io/v1beta1/egresses', { body: { apiVersion: 'crd.antrea.io/v1beta1', kind: 'Egress', metadata: { name: 'nospec' } } });
  assert.equal(missing.status, 422);
  assert.deepEqual(missing.body.details.causes, [{ reason: 'FieldValueRequired', field: 'spec', message: 'Required value' }]);
  const duplicate = await server.request('POST', '/apis/crd.antrea.io/v1beta1/egresses', { body: egress('dup', { egressIPs: ['10.0.0.2', '10.0.0.2'] }) });
  assert.equal(duplicate.status, 422);
  assert.ok(duplicate.body.details.causes.some((c) => c.reason === 'FieldValueDuplicate' && c.field === 'spec.egressIPs[1]'));
}));

test('unknown fields: Strict rejects, Warn warns and prunes, preserve-unknown-fields keeps', () => withServer({}, async (server) => {
  await installCrds(server);
  const body = egress('unknown', { egressIP: '10.0.0.1', color: 'blue' });
  const strict = await server.request('POST', '/apis/crd.antrea.io/v1beta1/egresses?fieldValidation=Strict', { body });
  assert.equal(strict.status, 400);
  assert.equal(strict.body.message, 'Egress in version "v1beta1" cannot be handled as a Egress: strict decoding error: unknown field "spec.color"');
  const warn = await server.request('POST', '/apis/crd.antrea.io/v1beta1/egresses?fieldValidation=Warn', { body });
  assert.equal(warn.status, 201);
  assert.match(warn.headers.warning, /unknown field \\"spec.color\\"/);
  assert.equal(warn.body.spec.color, undefined, 'unknown fields are pruned');
  const kubectl = await server.kubectl(['apply', '-f', '-'], { input: YAML.stringify({ ...egress('unknown2', { egressIP: '10.0.0.1', colour: 'x' }) }) });
  assert.notEqual(kubectl.code, 0);
  assert.match(kubectl.stderr, /strict decoding error: unknown field "spec.colour"/);
  await server.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: kTestCrd });
  const widget = { apiVersion: 'test.sluice.dev/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { size: 1, extra: { anything: { goes: true } } } };
  const kept = await server.request('POST', '/apis/test.sluice.dev/v1/namespaces/default/widgets?fieldValidation=Strict', { body: widget });
  assert.equal(kept.status, 201, kept.text);
  assert.deepEqual(kept.body.spec.extra, { anything: { goes: true } });
}));

test('schema keywords: types, enum, ranges, maxItems, oneOf, not, defaults and CEL', () => withServer({}, async (server) => {
  await server.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: kTestCrd });
  const create = (name, spec) => server.request('POST', '/apis/test.sluice.dev/v1/namespaces/default/widgets', {
    body: { apiVersion: 'test.sluice.dev/v1', kind: 'Widget', metadata: { name }, spec },
  });
  const causesOf = async (name, spec) => {
    const result = await create(name, spec);
    assert.equal(result.status, 422, `${name}: ${result.text}`);
    return result.body.details.causes;
  };
  assert.deepEqual(await causesOf('t', { size: 'big' }), [{ reason: 'FieldValueInvalid', field: 'spec.size', message: 'Invalid value: "string": spec.size in body must be of type integer: "string"' }]);
  assert.deepEqual(await causesOf('e', { size: 1, color: 'blue' }), [{ reason: 'FieldValueNotSupported', field: 'spec.color', message: 'Unsupported value: "blue": supported values: "red", "green"' }]);
  assert.deepEqual(await causesOf('m', { size: 0 }), [{ reason: 'FieldValueInvalid', field: 'spec.size', message: 'Invalid value: 0: spec.size in body should be greater than or equal to 1' }]);
  assert.deepEqual(await causesOf('x', { size: 101, limit: 200 }), [{ reason: 'FieldValueInvalid', field: 'spec.size', message: 'Invalid value: 101: spec.size in body should be less than or equal to 100' }]);
  assert.deepEqual(await causesOf('i', { size: 1, tags: ['a', 'b', 'c'] }), [{ reason: 'FieldValueTooMany', field: 'spec.tags', message: 'Too many: 3: must have at most 2 items' }]);
  assert.deepEqual(await causesOf('r', {}), [{ reason: 'FieldValueRequired', field: 'spec.size', message: 'Required value' }]);
  assert.match((await causesOf('o', { size: 1, choice: { a: 'x', b: 'y' } }))[0].message, /must validate one and only one schema \(oneOf\)/);
  assert.match((await causesOf('n', { size: 1, forbidden: { x: 'y' } }))[0].message, /must not validate the schema \(not\)/);
  assert.deepEqual(await causesOf('c', { size: 60 }), [{ reason: 'FieldValueInvalid', field: 'spec', message: 'Invalid value: "object": size must not exceed limit' }]);
  const good = await create('good', { size: 60, limit: 70, choice: { b: 'y' }, address: '192.168.1.1' });
  assert.equal(good.status, 201, good.text);
  const defaulted = await create('defaulted', { size: 2 });
  assert.equal(defaulted.body.spec.limit, 50);
}));
