// Tests manifests/crds.yml: the CRD objects against the upstream Kubernetes schema, the structural
// rules a real API server enforces, and the Egress/ExternalIPPool schemas themselves: the thesis
// listings apply, Sluice's extensions apply, bad objects are rejected with the intended message.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { loadCrds, loadDocuments, repoPath } from './lib/load.mjs';
import { crdValidator, celRules, structuralProblems, versionSchema } from './lib/crd_validator.mjs';

const require = createRequire(import.meta.url);
const { CustomResourceDefinition } = require('kubernetes-models/apiextensions.k8s.io/v1');

const { crds, egress, pool } = loadCrds();
const versions = ['v1beta1', 'v1alpha2'];

describe('CRD objects', () => {
  test('crds.yml holds exactly the Egress and ExternalIPPool CRDs', () => {
    assert.deepEqual(crds.map((c) => c.metadata.name).sort(), ['egresses.crd.antrea.io', 'externalippools.crd.antrea.io']);
  });

  for (const crd of crds) {
    test(`${crd.metadata.name} passes the upstream CustomResourceDefinition schema`, () => {
      assert.doesNotThrow(() => new CustomResourceDefinition(crd).validate());
    });

    test(`${crd.metadata.name} serves v1beta1 (storage) and v1alpha2 with one schema`, () => {
      assert.equal(crd.spec.group, 'crd.antrea.io');
      assert.equal(crd.spec.scope, 'Cluster');
      assert.deepEqual(crd.spec.versions.map((v) => [v.name, v.served, v.storage]), [['v1beta1', true, true], ['v1alpha2', true, false]]);
      assert.deepEqual(crd.spec.conversion, { strategy: 'None' });
      const [beta, alpha] = crd.spec.versions;
      assert.deepEqual(alpha.schema, beta.schema);
      assert.deepEqual(alpha.additionalPrinterColumns, beta.additionalPrinterColumns);
      for (const v of crd.spec.versions) assert.deepEqual(v.subresources, { status: {} }, `${v.name} needs the status subresource`);
    });

    test(`${crd.metadata.name} schema is structural and its CEL rules parse`, () => {
      assert.deepEqual(structuralProblems(versionSchema(crd, 'v1beta1')), []);
    });

    test(`${crd.metadata.name} CEL rules stay within the subset documented in crds.yml and docs/egress-api.md`, () => {
      // The lab API server implements a CEL subset; these are the features the rules promise to use.
      const functions = new Set(['has', 'size', 'int', 'split']);
      for (const { rule } of celRules(versionSchema(crd, 'v1beta1'))) {
        const code = rule.replace(/'[^']*'/g, "''");
        for (const [, name] of code.matchAll(/([A-Za-z_]\w*)\s*\(/g)) assert.ok(functions.has(name), `${name}() is outside the subset: ${rule}`);
        const operators = code.replace(/[\w.'\s()[\]]/g, ' ').trim().split(/\s+/).filter(Boolean);
        for (const op of operators) assert.ok(['!', '&&', '||', '==', '<=', '>', '+', '*'].includes(op), `operator ${op} is outside the subset: ${rule}`);
      }
    });

    test(`${crd.metadata.name} CEL rules only use properties their schema declares`, () => {
      // A typo such as self.egressIp would make a rule silently always true (has() of an unknown field).
      const schema = versionSchema(crd, 'v1beta1');
      for (const { path, rule } of celRules(schema)) {
        let node = schema;
        for (const part of path.split('/').filter(Boolean)) node = node[part];
        const known = new Set(Object.keys(node.properties || {}));
        for (const [, field] of rule.matchAll(/self\.([A-Za-z]+)/g)) {
          assert.ok(known.has(field), `rule at ${path} uses self.${field}, which the schema does not declare: ${rule}`);
        }
      }
    });
  }

  test('Egress names and printer columns match Antrea', () => {
    assert.deepEqual(egress.spec.names, { plural: 'egresses', singular: 'egress', kind: 'Egress', listKind: 'EgressList', shortNames: ['eg'] });
    assert.deepEqual(egress.spec.versions[0].additionalPrinterColumns.map((c) => [c.name, c.jsonPath]),
      [['EgressIP', '.status.egressIP'], ['EgressNode', '.status.egressNode'], ['Age', '.metadata.creationTimestamp']]);
  });

  test('ExternalIPPool names and printer columns match Antrea', () => {
    assert.deepEqual(pool.spec.names, { plural: 'externalippools', singular: 'externalippool', kind: 'ExternalIPPool', listKind: 'ExternalIPPoolList', shortNames: ['eip'] });
    assert.deepEqual(pool.spec.versions[0].additionalPrinterColumns.map((c) => [c.name, c.jsonPath]),
      [['Total', '.status.usage.total'], ['Used', '.status.usage.used'], ['Age', '.metadata.creationTimestamp']]);
  });

  test('the pool nodeSelector and the Egress selectors share one LabelSelector schema', () => {
    const selector = versionSchema(egress, 'v1beta1').properties.spec.properties.appliedTo.properties.podSelector;
    const stripDescription = ({ description, ...rest }) => rest;
    assert.deepEqual(stripDescription(versionSchema(pool, 'v1beta1').properties.spec.properties.nodeSelector), stripDescription(selector));
    assert.deepEqual(versionSchema(egress, 'v1beta1').properties.spec.properties.appliedTo.properties.namespaceSelector, selector);
  });
});

// Builders for test objects: a valid object, changed by `patch`.
function egressObject(version, spec, extra = {}) {
  return { apiVersion: `crd.antrea.io/${version}`, kind: 'Egress', metadata: { name: 'test-egress' }, spec, ...extra };
}
const appliedTo = { podSelector: { matchLabels: { role: 'web' } } };
function poolObject(version, spec) {
  return { apiVersion: `crd.antrea.io/${version}`, kind: 'ExternalIPPool', metadata: { name: 'test-pool' }, spec };
}

for (const version of versions) {
  describe(`Egress ${version} schema`, () => {
    const validate = crdValidator(egress, version);

    test('accepts the thesis Listing 1 (with its status block dropped, as on apply)', () => {
      const listing = loadDocuments(repoPath('tests/fixtures/thesis/listing1-egress.yml'));
      assert.equal(listing.length, 1);
      // Listing 1 is v1alpha2; checking it against v1beta1 too proves the versions accept the same YAML.
      const object = { ...listing[0], apiVersion: `crd.antrea.io/${version}` };
      assert.deepEqual(validate(object), []);
      assert.deepEqual(validate(object, { keepStatus: true }), [], 'the status block itself is well-formed');
    });

    const good = {
      'a fixed egressIP without a pool': { appliedTo, egressIP: '10.10.0.8' },
      'a pool only': { appliedTo: { namespaceSelector: { matchLabels: { env: 'prod' } } }, externalIPPool: 'prod-pool' },
      'matchExpressions with every operator': {
        appliedTo: {
          podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['a', 'b'] }, { key: 'tier', operator: 'NotIn', values: ['db'] }] },
          namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'Exists' }, { key: 'legacy', operator: 'DoesNotExist' }] },
        },
        externalIPPool: 'p',
      },
      'Antrea bandwidth': { appliedTo, externalIPPool: 'p', bandwidth: { rate: '10M', burst: '300k' } },
      'extension: several IPs from several pools': { appliedTo, externalIPPools: ['pool-a', 'pool-b'] },
      'extension: several fixed IPs pinned in pools': { appliedTo, egressIPs: ['10.10.0.8', '10.10.1.8'], externalIPPools: ['pool-a', 'pool-b'] },
      'extension: several fixed IPs': { appliedTo, egressIPs: ['10.10.0.8', '10.10.0.9'] },
      'extension: destination selection': { appliedTo, externalIPPool: 'p', destinationCIDRs: ['203.0.113.0/24', '0.0.0.0/0'], excludedCIDRs: ['203.0.113.7/32'] },
    };
    for (const [name, spec] of Object.entries(good)) {
      test(`accepts ${name}`, () => assert.deepEqual(validate(egressObject(version, spec)), []));
    }

    test('accepts a controller-written multi-IP status', () => {
      const status = {
        egressNode: 'node-a', egressIP: '10.10.0.8',
        egressIPs: [{ ip: '10.10.0.8', node: 'node-a', pool: 'pool-a' }, { ip: '10.10.1.8', node: '', pool: 'pool-b' }],
        conditions: [{ type: 'IPAllocated', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z', reason: 'Allocated', message: '' },
          { type: 'IPAssigned', status: 'False', reason: 'NoLiveNode' }],
      };
      assert.deepEqual(validate(egressObject(version, good['extension: several IPs from several pools'], { status }), { keepStatus: true }), []);
    });

    // Each bad spec must be rejected, with a problem that contains the given text.
    const bad = {
      'an IP octet above 255': [{ appliedTo, egressIP: '10.10.0.256' }, 'must match pattern'],
      'an IP with a leading zero': [{ appliedTo, egressIP: '10.010.0.1' }, 'must match pattern'],
      'an IPv6 egressIP (Sluice is IPv4-only)': [{ appliedTo, egressIP: 'fd00::8' }, 'must match format "ipv4"'],
      'egressIP together with egressIPs': [{ appliedTo, egressIP: '10.10.0.8', egressIPs: ['10.10.0.9'] }, 'set either spec.egressIP (one IP) or spec.egressIPs'],
      'externalIPPool together with externalIPPools': [{ appliedTo, externalIPPool: 'a', externalIPPools: ['b'] }, 'set either spec.externalIPPool (one pool) or spec.externalIPPools'],
      'egressIP with externalIPPools': [{ appliedTo, egressIP: '10.10.0.8', externalIPPools: ['b'] }, 'do not mix the single forms'],
      'neither an IP nor a pool': [{ appliedTo }, 'set spec.externalIPPool (the controller allocates an IP from it) or spec.egressIP'],
      'egressIPs and externalIPPools of different lengths': [{ appliedTo, egressIPs: ['10.10.0.8'], externalIPPools: ['a', 'b'] }, 'matched by index'],
      'a duplicate egress IP': [{ appliedTo, egressIPs: ['10.10.0.8', '10.10.0.8'] }, 'duplicate entry'],
      'an empty egressIPs list': [{ appliedTo, egressIPs: [], externalIPPool: 'p' }, 'must NOT have fewer than 1 items'],
      'an empty appliedTo': [{ appliedTo: {}, egressIP: '10.10.0.8' }, 'spec.appliedTo needs a podSelector'],
      'no appliedTo': [{ egressIP: '10.10.0.8' }, "must have required property 'appliedTo'"],
      'In without values': [{ appliedTo: { podSelector: { matchExpressions: [{ key: 'a', operator: 'In' }] } }, egressIP: '10.10.0.8' }, 'operators In and NotIn need a non-empty values list'],
      'Exists with values': [{ appliedTo: { podSelector: { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] } }, egressIP: '10.10.0.8' }, 'Exists and DoesNotExist take no values'],
      'an unknown operator': [{ appliedTo: { podSelector: { matchExpressions: [{ key: 'a', operator: 'Equals', values: ['x'] }] } }, egressIP: '10.10.0.8' }, 'must be equal to one of the allowed values'],
      'a matchLabels value that is not a label value': [{ appliedTo: { podSelector: { matchLabels: { role: 'web server' } } }, egressIP: '10.10.0.8' }, 'must match pattern'],
      'a destination CIDR with prefix 33': [{ appliedTo, externalIPPool: 'p', destinationCIDRs: ['10.0.0.0/33'] }, 'must match pattern'],
      'a destination that is an IP without prefix': [{ appliedTo, externalIPPool: 'p', excludedCIDRs: ['10.0.0.1'] }, 'must match pattern'],
      'a pool name with capitals': [{ appliedTo, externalIPPool: 'Prod_Pool' }, 'must match pattern'],
      'a misspelt field (egressIp)': [{ appliedTo, externalIPPool: 'p', egressIp: '10.10.0.8' }, 'must NOT have additional properties (egressIp)'],
      'bandwidth without burst': [{ appliedTo, externalIPPool: 'p', bandwidth: { rate: '10M' } }, "must have required property 'burst'"],
    };
    for (const [name, [spec, expected]] of Object.entries(bad)) {
      test(`rejects ${name}`, () => {
        const problems = validate(egressObject(version, spec));
        assert.ok(problems.some((p) => p.includes(expected)), `expected a problem containing "${expected}", got ${JSON.stringify(problems)}`);
      });
    }

    test('rejects a namespaced Egress and a wrong kind', () => {
      const object = egressObject(version, good['a pool only']);
      assert.ok(validate({ ...object, metadata: { name: 'x', namespace: 'default' } }).some((p) => p.includes('cluster-scoped')));
      assert.ok(validate({ ...object, kind: 'ExternalIPPool' }).some((p) => p.startsWith('kind:')));
    });
  });

  describe(`ExternalIPPool ${version} schema`, () => {
    const validate = crdValidator(pool, version);

    test('accepts the thesis Listing 2', () => {
      const listing = loadDocuments(repoPath('tests/fixtures/thesis/listing2-pool.yml'));
      assert.equal(listing.length, 1);
      assert.deepEqual(validate({ ...listing[0], apiVersion: `crd.antrea.io/${version}` }), []);
    });

    const good = {
      'a one-address range (start == end)': { ipRanges: [{ start: '10.10.10.30', end: '10.10.10.30' }] },
      'a range where only the last octet orders start before end': { ipRanges: [{ start: '10.10.9.250', end: '10.10.10.2' }] },
      'no nodeSelector (every node)': { ipRanges: [{ cidr: '192.0.2.0/24' }] },
      'an empty nodeSelector (every node)': { ipRanges: [{ cidr: '192.0.2.0/24' }], nodeSelector: {} },
      'Antrea subnetInfo': { ipRanges: [{ cidr: '192.0.2.0/24' }], subnetInfo: { gateway: '192.0.2.1', prefixLength: 24, vlan: 10 } },
      'the whole IPv4 space as one range': { ipRanges: [{ start: '0.0.0.0', end: '255.255.255.255' }] },
    };
    for (const [name, spec] of Object.entries(good)) {
      test(`accepts ${name}`, () => assert.deepEqual(validate(poolObject(version, spec)), []));
    }

    test('accepts a controller-written usage status', () => {
      const object = { ...poolObject(version, good['no nodeSelector (every node)']), status: { usage: { total: 256, used: 3 } } };
      assert.deepEqual(validate(object, { keepStatus: true }), []);
    });

    const bad = {
      'start greater than end': [{ ipRanges: [{ start: '10.10.0.10', end: '10.10.0.2' }] }, 'ipRanges start must not be greater than end'],
      'start greater than end in an upper octet': [{ ipRanges: [{ start: '10.11.0.1', end: '10.10.255.255' }] }, 'ipRanges start must not be greater than end'],
      'a range with only a start': [{ ipRanges: [{ start: '10.10.0.2' }] }, 'each ipRanges entry needs either cidr, or both start and end'],
      'a range with a cidr and a start': [{ ipRanges: [{ cidr: '10.10.1.0/28', start: '10.10.0.2', end: '10.10.0.3' }] }, 'each ipRanges entry needs either cidr, or both start and end'],
      'an empty range': [{ ipRanges: [{}] }, 'each ipRanges entry needs either cidr, or both start and end'],
      'no ipRanges': [{ nodeSelector: {} }, "must have required property 'ipRanges'"],
      'an empty ipRanges list': [{ ipRanges: [] }, 'must NOT have fewer than 1 items'],
      'a bad start IP': [{ ipRanges: [{ start: '10.10.0', end: '10.10.0.9' }] }, 'must match pattern'],
      'a CIDR without a prefix': [{ ipRanges: [{ cidr: '10.10.1.0' }] }, 'must match pattern'],
      'an IPv6 CIDR': [{ ipRanges: [{ cidr: 'fd00::/64' }] }, 'must match pattern'],
      'a VLAN above 4094': [{ ipRanges: [{ cidr: '192.0.2.0/24' }], subnetInfo: { gateway: '192.0.2.1', prefixLength: 24, vlan: 4095 } }, 'must be <= 4094'],
      'a misspelt nodeSelector field': [{ ipRanges: [{ cidr: '192.0.2.0/24' }], nodeSelector: { matchLabel: { a: 'b' } } }, 'must NOT have additional properties (matchLabel)'],
    };
    for (const [name, [spec, expected]] of Object.entries(bad)) {
      test(`rejects ${name}`, () => {
        const problems = validate(poolObject(version, spec));
        assert.ok(problems.some((p) => p.includes(expected)), `expected a problem containing "${expected}", got ${JSON.stringify(problems)}`);
      });
    }
  });
}
