// CRDs and custom resources through the real kubectl: Sluice's CRDs, the thesis listings verbatim,
// printer columns, YAML round trip, served versions, deletion of resources and of CRDs.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const YAML = require('yaml');
const { withServer, kRepoRoot, kTestCrd, waitFor } = require('../testing/harness');

const kCrds = path.join(kRepoRoot, 'manifests', 'crds.yml');
const kListing1 = path.join(kRepoRoot, 'tests', 'fixtures', 'thesis', 'listing1-egress.yml');
const kListing2 = path.join(kRepoRoot, 'tests', 'fixtures', 'thesis', 'listing2-pool.yml');

test('a test CRD is established, discoverable and its resources served in every version', () => withServer({}, async (server) => {
  const out = await server.kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(kTestCrd) });
  assert.match(out, /customresourcedefinition.apiextensions.k8s.io\/widgets.test.sluice.dev created/);
  await server.kubectlOk(['wait', '--for=condition=Established', 'crd/widgets.test.sluice.dev', '--timeout=10s']);
  const group = await server.request('GET', '/apis/test.sluice.dev');
  assert.equal(group.body.preferredVersion.version, 'v1');
  assert.deepEqual(group.body.versions.map((v) => v.version), ['v1', 'v1alpha1']);
  const widget = 'apiVersion: test.sluice.dev/v1alpha1\nkind: Widget\nmetadata:\n  name: w1\n  namespace: default\nspec:\n  size: 3\n';
  await server.kubectlOk(['apply', '-f', '-'], { input: widget });
  const v1 = await server.request('GET', '/apis/test.sluice.dev/v1/namespaces/default/widgets/w1');
  assert.equal(v1.body.apiVersion, 'test.sluice.dev/v1');
  assert.equal(v1.body.spec.limit, 50, 'the storage version schema defaulted spec.limit');
  const alpha = await server.request('GET', '/apis/test.sluice.dev/v1alpha1/namespaces/default/widgets/w1');
  assert.equal(alpha.body.apiVersion, 'test.sluice.dev/v1alpha1');
  const table = await server.kubectlOk(['get', 'wd', '-n', 'default']);
  assert.match(table, /^NAME\s+SIZE\s+PHASE\s+AGE\n/);
  assert.match(table, /\nw1 +3 +\d+s\n/, 'a missing column value prints blank');
}));

test('Sluice CRDs apply, and the thesis listings apply verbatim with validation on', () => withServer({}, async (server) => {
  const crds = await server.kubectlOk(['apply', '-f', kCrds]);
  assert.match(crds, /egresses.crd.antrea.io created/);
  assert.match(crds, /externalippools.crd.antrea.io created/);
  await server.kubectlOk(['wait', '--for=condition=Established', 'crd/egresses.crd.antrea.io', 'crd/externalippools.crd.antrea.io']);
  const applied = await server.kubectlOk(['apply', '--validate=strict', '-f', kListing2, '-f', kListing1]);
  assert.match(applied, /externalippool.crd.antrea.io\/prod-external-ip-pool created/);
  assert.match(applied, /egress.crd.antrea.io\/egress-prod-web created/);
  const egress = (await server.request('GET', '/apis/crd.antrea.io/v1beta1/egresses/egress-prod-web')).body;
  assert.equal(egress.spec.egressIP, '10.10.0.8');
  assert.equal(egress.spec.externalIPPool, 'prod-external-ip-pool');
  assert.equal(egress.status, undefined, "Listing 1's status block is dropped by the status subresource");
  const again = await server.kubectlOk(['apply', '-f', kListing2, '-f', kListing1]);
  assert.match(again, /prod-external-ip-pool unchanged/);
  // kubectl says "configured" for Listing 1 because its last-applied status can never be applied
  // (kube-apiserver behaves the same); the server must still treat it as a no-op.
  assert.match(again, /egress-prod-web (unchanged|configured)/);
  const egressAgain = (await server.request('GET', '/apis/crd.antrea.io/v1beta1/egresses/egress-prod-web')).body;
  assert.equal(egressAgain.metadata.resourceVersion, egress.metadata.resourceVersion);
  const eg = await server.kubectlOk(['get', 'eg']);
  assert.match(eg, /^NAME\s+EGRESSIP\s+EGRESSNODE\s+AGE\n/);
  assert.match(eg, /\negress-prod-web +\d+s\n/);
  const eip = await server.kubectlOk(['get', 'eip']);
  assert.match(eip, /^NAME\s+TOTAL\s+USED\s+AGE\n/);
  assert.match(eip, /\nprod-external-ip-pool +\d+s\n/);
}));

test('kubectl get -o yaml round-trips: a PUT of it is a no-op, kubectl replace accepts it', () => withServer({}, async (server) => {
  await server.kubectlOk(['apply', '-f', kCrds]);
  await server.kubectlOk(['apply', '-f', kListing2]);
  const yaml = await server.kubectlOk(['get', 'eip', 'prod-external-ip-pool', '-o', 'yaml']);
  const object = YAML.parse(yaml);
  assert.equal(object.apiVersion, 'crd.antrea.io/v1beta1');
  assert.deepEqual(object.spec.ipRanges, [{ start: '10.10.0.2', end: '10.10.0.10' }, { cidr: '10.10.1.0/28' }]);
  const rv = object.metadata.resourceVersion;
  const put = await server.request('PUT', '/apis/crd.antrea.io/v1beta1/externalippools/prod-external-ip-pool', { body: object });
  assert.equal(put.status, 200);
  assert.equal(put.body.metadata.resourceVersion, rv, 'an identical update is a no-op and keeps the resourceVersion');
  const replaced = await server.kubectlOk(['replace', '-f', '-'], { input: yaml });
  assert.match(replaced, /replaced/);
  const json = JSON.parse(await server.kubectlOk(['get', 'eip', 'prod-external-ip-pool', '-o', 'json']));
  assert.deepEqual(json.spec, object.spec);
}));

test('kubectl delete removes custom resources; deleting the CRD removes the resource type', () => withServer({}, async (server) => {
  await server.kubectlOk(['apply', '-f', kCrds]);
  await server.kubectlOk(['apply', '-f', kListing2, '-f', kListing1]);
  const deleted = await server.kubectlOk(['delete', '-f', kListing1]);
  assert.match(deleted, /egress.crd.antrea.io "egress-prod-web" deleted/);
  const gone = await server.request('GET', '/apis/crd.antrea.io/v1beta1/egresses/egress-prod-web');
  assert.equal(gone.status, 404);
  assert.equal(gone.body.reason, 'NotFound');
  await server.kubectlOk(['delete', 'crd', 'externalippools.crd.antrea.io']);
  const pools = await server.request('GET', '/apis/crd.antrea.io/v1beta1/externalippools');
  assert.equal(pools.status, 404);
  const resources = await server.request('GET', '/apis/crd.antrea.io/v1beta1');
  assert.deepEqual(resources.body.resources.map((r) => r.name), ['egresses', 'egresses/status']);
  await server.kubectlOk(['delete', 'crd', 'egresses.crd.antrea.io']);
  await waitFor(async () => (await server.request('GET', '/apis/crd.antrea.io')).status === 404, { what: 'the group to disappear' });
  const apis = await server.request('GET', '/apis');
  assert.ok(!apis.body.groups.some((g) => g.name === 'crd.antrea.io'));
}));

test('invalid CRDs are rejected with field errors', () => withServer({}, async (server) => {
  const crd = structuredClone(kTestCrd);
  crd.metadata.name = 'wrong.test.sluice.dev';
  crd.spec.versions[1].storage = true;
  crd.spec.versions[0].schema.openAPIV3Schema.properties.spec['x-kubernetes-validations'] = [{ rule: 'self.size <=' }];
  const result = await server.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd });
  assert.equal(result.status, 422);
  const fields = result.body.details.causes.map((c) => c.field);
  assert.ok(fields.includes('metadata.name'));
  assert.ok(fields.includes('spec.versions'));
  assert.ok(fields.some((f) => f.includes('x-kubernetes-validations')));
  assert.ok(fs.existsSync(kCrds));
}));
