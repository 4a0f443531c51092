// ServiceCIDR (networking.k8s.io/v1, and v1beta1 as Kubernetes 1.31-1.32 serve it): the API
// server's own "kubernetes" with the range ClusterIPs come from and a Ready condition, discovery
// for kubectl, and the validation of spec.cidrs.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { withServer } = require('../testing/harness');

const kV1 = '/apis/networking.k8s.io/v1/servicecidrs';
const kV1beta1 = '/apis/networking.k8s.io/v1beta1/servicecidrs';

test('ServiceCIDR kubernetes holds the ClusterIP range and is Ready, in v1 and v1beta1', () => withServer({}, async (server) => {
  const v1 = await server.request('GET', `${kV1}/kubernetes`);
  assert.equal(v1.status, 200, v1.text);
  assert.equal(v1.body.apiVersion, 'networking.k8s.io/v1');
  assert.equal(v1.body.kind, 'ServiceCIDR');
  assert.deepEqual(v1.body.spec.cidrs, ['10.96.0.0/12']);
  const ready = v1.body.status.conditions.find((c) => c.type === 'Ready');
  assert.equal(ready.status, 'True');
  assert.ok(ready.lastTransitionTime);
  const beta = await server.request('GET', `${kV1beta1}/kubernetes`);
  assert.equal(beta.status, 200, beta.text);
  assert.equal(beta.body.apiVersion, 'networking.k8s.io/v1beta1');
  assert.deepEqual(beta.body.spec.cidrs, ['10.96.0.0/12']);
  // The range is the allocator's: a new Service's ClusterIP falls in it.
  const svc = await server.request('POST', '/api/v1/namespaces/default/services', {
    body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } },
  });
  assert.equal(svc.status, 201, svc.text);
  assert.match(svc.body.spec.clusterIP, /^10\.(9[6-9]|10[0-9]|11[01])\./);
}));

test('kubectl discovers servicecidrs and prints their CIDRs', () => withServer({}, async (server) => {
  const group = await server.request('GET', '/apis/networking.k8s.io');
  assert.equal(group.status, 200, group.text);
  assert.deepEqual(group.body.versions.map((v) => v.version), ['v1', 'v1beta1']);
  assert.equal(group.body.preferredVersion.version, 'v1');
  const resources = await server.request('GET', '/apis/networking.k8s.io/v1');
  const entry = resources.body.resources.find((r) => r.name === 'servicecidrs');
  assert.equal(entry.kind, 'ServiceCIDR');
  assert.equal(entry.namespaced, false);
  const table = await server.kubectlOk(['get', 'servicecidrs']);
  assert.match(table, /^NAME\s+CIDRS\s+AGE\n/);
  assert.match(table, /kubernetes\s+10\.96\.0\.0\/12\s+/);
  const json = JSON.parse(await server.kubectlOk(['get', 'servicecidr', 'kubernetes', '-o', 'json']));
  assert.deepEqual(json.spec.cidrs, ['10.96.0.0/12']);
}));

test('spec.cidrs is required, at most two, valid CIDRs, and immutable', () => withServer({}, async (server) => {
  const post = (name, cidrs) => server.request('POST', kV1, { body: { apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name }, spec: { cidrs } } });
  const extra = await post('extra', ['10.200.0.0/16']);
  assert.equal(extra.status, 201, extra.text);
  assert.deepEqual(extra.body.spec.cidrs, ['10.200.0.0/16']);
  const empty = await post('empty', []);
  assert.equal(empty.status, 422);
  assert.match(empty.body.message, /spec\.cidrs: Required value/);
  const hostBits = await post('host-bits', ['10.200.0.1/16']);
  assert.equal(hostBits.status, 422);
  assert.match(hostBits.body.message, /spec\.cidrs\[0\]: Invalid value: "10\.200\.0\.1\/16".*did you mean 10\.200\.0\.0\/16\?/);
  const three = await post('three', ['10.1.0.0/16', '10.2.0.0/16', '10.3.0.0/16']);
  assert.equal(three.status, 422);
  assert.match(three.body.message, /spec\.cidrs: Too many: 3: must have at most 2 items/);
  const changed = await server.request('PATCH', `${kV1}/extra`, { contentType: 'application/merge-patch+json', body: { spec: { cidrs: ['10.201.0.0/16'] } } });
  assert.equal(changed.status, 422);
  assert.match(changed.body.message, /spec\.cidrs: Invalid value: \["10\.201\.0\.0\/16"\]: field is immutable/);
}));
