// The resources the server serves: built-in kinds plus every version of every established CRD.
// It answers discovery (/api, /apis, APIResourceList) and builds the OpenAPI v2/v3 documents.
'use strict';

const crypto = require('crypto');
const { kBuiltins, kObjectMetaSchema } = require('./builtin');
const { customColumns } = require('./table');
const { compileAllRules } = require('./schema');

const kVerbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const kCrdGroupResource = 'apiextensions.k8s.io/customresourcedefinitions';

function groupResource(group, resource) {
  return `${group}/${resource}`;
}

// versionPriority orders versions as kube-apiserver does: GA, then beta, then alpha, newer first.
function versionPriority(version) {
  const match = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(version);
  if (!match) return [3, 0, 0, version];
  const stage = match[2] === 'alpha' ? 2 : match[2] === 'beta' ? 1 : 0;
  return [stage, -Number(match[1]), -Number(match[3] || 0), version];
}

function compareVersions(a, b) {
  const pa = versionPriority(a);
  const pb = versionPriority(b);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return pa[3] < pb[3] ? -1 : pa[3] > pb[3] ? 1 : 0;
}

function schemaName(group, version, kind) {
  const known = { '': 'io.k8s.api.core', 'coordination.k8s.io': 'io.k8s.api.coordination', 'discovery.k8s.io': 'io.k8s.api.discovery', 'networking.k8s.io': 'io.k8s.api.networking', 'apiextensions.k8s.io': 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions' };
  const prefix = group in known ? known[group] : group.split('.').reverse().join('.');
  return `${prefix}.${version}.${kind}`;
}

function storageVersionHash(group, version, kind) {
  return crypto.createHash('sha256').update(`${group}/${version}/${kind}`).digest().subarray(0, 8).toString('base64');
}

class Registry {
  constructor() {
    this.resources = new Map(); // gr -> resource
    for (const builtin of kBuiltins) {
      const resource = {
        ...builtin, builtin: true, listKind: `${builtin.kind}List`, storageVersion: builtin.version,
        versions: [builtin.version, ...(builtin.extraVersions || [])].map((name) => (
          { name, schema: builtin.schema, columns: builtin.columns, statusSubresource: !!builtin.statusSubresource })),
      };
      this.resources.set(groupResource(builtin.group, builtin.resource), resource);
    }
    this.generation = 0;
  }

  lookup(group, version, name) {
    for (const resource of this.resources.values()) {
      if (resource.group !== group || resource.resource !== name) continue;
      const served = resource.versions.find((v) => v.name === version);
      if (served) return { resource, version: served };
    }
    return null;
  }

  groupVersionExists(group, version) {
    return [...this.resources.values()].some((r) => r.group === group && r.versions.some((v) => v.name === version));
  }

  // checkCrd returns field causes for a CRD the registry could not serve.
  static checkCrd(crd) {
    const causes = [];
    const spec = crd.spec || {};
    const names = spec.names || {};
    const required = (field, value) => {
      if (value === undefined || value === '') causes.push({ reason: 'FieldValueRequired', field, message: 'Required value' });
    };
    required('spec.group', spec.group);
    required('spec.names.plural', names.plural);
    required('spec.names.kind', names.kind);
    if (!['Cluster', 'Namespaced'].includes(spec.scope)) {
      causes.push({ reason: 'FieldValueNotSupported', field: 'spec.scope', message: `Unsupported value: ${JSON.stringify(spec.scope || '')}: supported values: "Cluster", "Namespaced"` });
    }
    if (spec.group && names.plural && crd.metadata.name !== `${names.plural}.${spec.group}`) {
      causes.push({ reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: ${JSON.stringify(crd.metadata.name)}: must be spec.names.plural+"."+spec.group` });
    }
    if (spec.group && !spec.group.includes('.')) {
      causes.push({ reason: 'FieldValueInvalid', field: 'spec.group', message: `Invalid value: ${JSON.stringify(spec.group)}: should be a domain with at least one dot` });
    }
    const versions = Array.isArray(spec.versions) ? spec.versions : [];
    if (versions.length === 0) causes.push({ reason: 'FieldValueRequired', field: 'spec.versions', message: 'Required value: must have exactly one version marked as storage version' });
    else if (versions.filter((v) => v.storage).length !== 1) {
      causes.push({ reason: 'FieldValueInvalid', field: 'spec.versions', message: `Invalid value: ${JSON.stringify(versions.map((v) => v.name))}: must have exactly one version marked as storage version` });
    }
    versions.forEach((v, i) => {
      const schema = v.schema && v.schema.openAPIV3Schema;
      if (!schema) {
        causes.push({ reason: 'FieldValueRequired', field: `spec.versions[${i}].schema.openAPIV3Schema`, message: 'Required value: schemas are required' });
        return;
      }
      if (schema.type !== 'object') {
        causes.push({ reason: 'FieldValueRequired', field: `spec.versions[${i}].schema.openAPIV3Schema.type`, message: 'Required value: must not be empty at the root' });
      }
      for (const message of compileAllRules(schema, `spec.versions[${i}].schema.openAPIV3Schema`, [])) {
        const [field, rest] = message.split(/: (.*)/s);
        causes.push({ reason: 'FieldValueInvalid', field, message: rest });
      }
    });
    return causes;
  }

  // fillCrdDefaults applies the defaults kube-apiserver sets on CRDs.
  static fillCrdDefaults(crd) {
    const names = crd.spec.names;
    if (!names.singular) names.singular = names.kind.toLowerCase();
    if (!names.listKind) names.listKind = `${names.kind}List`;
    if (!crd.spec.conversion) crd.spec.conversion = { strategy: 'None' };
    for (const version of crd.spec.versions) if (version.served === undefined) version.served = true;
  }

  static establishedStatus(crd, previousStatus) {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const storage = crd.spec.versions.find((v) => v.storage).name;
    const stored = new Set([...((previousStatus && previousStatus.storedVersions) || []), storage]);
    const oldConditions = (previousStatus && previousStatus.conditions) || [];
    const condition = (type, reason, message) => {
      const old = oldConditions.find((c) => c.type === type && c.status === 'True');
      return { type, status: 'True', lastTransitionTime: old ? old.lastTransitionTime : now, reason, message };
    };
    return {
      acceptedNames: { ...crd.spec.names },
      conditions: [
        condition('NamesAccepted', 'NoConflicts', 'no conflicts found'),
        condition('Established', 'InitialNamesAccepted', 'the initial names have been accepted'),
      ],
      storedVersions: [...stored],
    };
  }

  registerCrd(crd) {
    const spec = crd.spec;
    const gr = groupResource(spec.group, spec.names.plural);
    const served = spec.versions.filter((v) => v.served !== false).sort((a, b) => compareVersions(a.name, b.name));
    this.resources.set(gr, {
      builtin: false, group: spec.group, resource: spec.names.plural, singular: spec.names.singular,
      kind: spec.names.kind, listKind: spec.names.listKind, namespaced: spec.scope === 'Namespaced',
      shortNames: spec.names.shortNames || [], categories: spec.names.categories || [],
      storageVersion: spec.versions.find((v) => v.storage).name,
      storageSchema: spec.versions.find((v) => v.storage).schema.openAPIV3Schema,
      fieldSelectors: ['metadata.name', ...(spec.scope === 'Namespaced' ? ['metadata.namespace'] : [])],
      versions: served.map((v) => ({
        name: v.name,
        schema: v.schema.openAPIV3Schema,
        columns: customColumns(v.additionalPrinterColumns),
        statusSubresource: !!(v.subresources && v.subresources.status),
        selectableFields: (v.selectableFields || []).map((f) => f.jsonPath.replace(/^\./, '')),
      })),
    });
    this.generation++;
    return gr;
  }

  unregisterCrd(crd) {
    const gr = groupResource(crd.spec.group, crd.spec.names.plural);
    const existed = this.resources.delete(gr);
    this.generation++;
    return existed ? gr : null;
  }

  // groups returns [{name, versions (preferred first)}] for /apis, built-in groups first.
  groups() {
    const byGroup = new Map();
    for (const resource of this.resources.values()) {
      if (resource.group === '') continue;
      if (!byGroup.has(resource.group)) byGroup.set(resource.group, { builtin: resource.builtin, versions: new Set() });
      for (const v of resource.versions) byGroup.get(resource.group).versions.add(v.name);
    }
    return [...byGroup.entries()]
      .sort(([a, ga], [b, gb]) => (ga.builtin !== gb.builtin ? (ga.builtin ? -1 : 1) : a < b ? -1 : a > b ? 1 : 0))
      .map(([name, g]) => ({ name, versions: [...g.versions].sort(compareVersions) }));
  }

  apiGroup(name) {
    const group = this.groups().find((g) => g.name === name);
    if (!group) return null;
    const versions = group.versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
    return { kind: 'APIGroup', apiVersion: 'v1', name, versions, preferredVersion: versions[0] };
  }

  apiGroupList() {
    return { kind: 'APIGroupList', apiVersion: 'v1', groups: this.groups().map((g) => { const { kind: _kind, apiVersion: _apiVersion, ...rest } = this.apiGroup(g.name); return rest; }) };
  }

  apiResourceList(group, version) {
    const resources = [];
    for (const resource of this.resources.values()) {
      if (resource.group !== group) continue;
      const served = resource.versions.find((v) => v.name === version);
      if (!served) continue;
      const entry = {
        name: resource.resource, singularName: resource.singular, namespaced: resource.namespaced,
        kind: resource.kind, verbs: kVerbs,
      };
      if (resource.shortNames && resource.shortNames.length) entry.shortNames = resource.shortNames;
      if (resource.categories && resource.categories.length) entry.categories = resource.categories;
      entry.storageVersionHash = storageVersionHash(group, resource.storageVersion, resource.kind);
      resources.push(entry);
      if (served.statusSubresource) {
        resources.push({ name: `${resource.resource}/status`, singularName: '', namespaced: resource.namespaced, kind: resource.kind, verbs: ['get', 'patch', 'update'] });
      }
    }
    if (resources.length === 0) return null;
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
  }

  groupVersions() {
    const seen = new Map();
    for (const resource of this.resources.values()) {
      for (const v of resource.versions) {
        const key = resource.group ? `apis/${resource.group}/${v.name}` : `api/${v.name}`;
        seen.set(key, { group: resource.group, version: v.name });
      }
    }
    return seen;
  }

  // openApiV3 returns the document for one group/version, or null.
  openApiV3(group, version) {
    const prefix = group ? `/apis/${group}/${version}` : `/api/${version}`;
    const paths = {};
    const schemas = { 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta': kObjectMetaSchema };
    let found = false;
    for (const resource of this.resources.values()) {
      if (resource.group !== group) continue;
      const served = resource.versions.find((v) => v.name === version);
      if (!served) continue;
      found = true;
      const name = schemaName(group, version, resource.kind);
      const gvk = { group, version, kind: resource.kind };
      const schema = structuredClone(served.schema);
      if (!schema.properties) schema.properties = {};
      schema.properties.metadata = { $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' };
      schema['x-kubernetes-group-version-kind'] = [gvk];
      schemas[name] = schema;
      schemas[`${name}List`] = {
        type: 'object', required: ['items'],
        properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, items: { type: 'array', items: { $ref: `#/components/schemas/${name}` } } },
        'x-kubernetes-group-version-kind': [{ ...gvk, kind: resource.listKind }],
      };
      const ref = { $ref: `#/components/schemas/${name}` };
      const body = { schema: ref };
      const patchContent = { 'application/json-patch+json': body, 'application/merge-patch+json': body, 'application/apply-patch+yaml': body };
      const param = (n) => ({ name: n, in: 'query', schema: { type: 'string', uniqueItems: true } });
      const operation = (action, extra) => ({
        operationId: `${action}${resource.kind}`, 'x-kubernetes-action': action, 'x-kubernetes-group-version-kind': gvk,
        responses: { 200: { description: 'OK', content: { 'application/json': { schema: ref } } } }, ...extra,
      });
      const item = {
        get: operation('get'),
        put: operation('put', { parameters: [param('dryRun'), param('fieldManager'), param('fieldValidation')], requestBody: { content: { '*/*': body } } }),
        patch: operation('patch', { parameters: [param('dryRun'), param('fieldManager'), param('fieldValidation'), { name: 'force', in: 'query', schema: { type: 'boolean' } }], requestBody: { content: patchContent } }),
        delete: operation('delete'),
        parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
      };
      const collection = {
        get: operation('list'),
        post: operation('post', { parameters: [param('dryRun'), param('fieldManager'), param('fieldValidation')], requestBody: { content: { '*/*': body } } }),
        delete: operation('deletecollection'),
      };
      const base = resource.namespaced ? `${prefix}/namespaces/{namespace}/${resource.resource}` : `${prefix}/${resource.resource}`;
      paths[base] = collection;
      paths[`${base}/{name}`] = item;
      if (served.statusSubresource) {
        const status = structuredClone(item);
        delete status.delete;
        paths[`${base}/{name}/status`] = status;
      }
      if (resource.namespaced) paths[`${prefix}/${resource.resource}`] = { get: operation('list') };
    }
    if (!found) return null;
    return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths, components: { schemas } };
  }

  openApiV3Root() {
    const paths = {};
    for (const [key, { group, version }] of this.groupVersions()) {
      const document = this.openApiV3(group, version);
      const hash = crypto.createHash('sha512').update(JSON.stringify(document)).digest('hex').toUpperCase();
      paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${hash}` };
    }
    return { paths };
  }

  openApiV2() {
    const definitions = {};
    const paths = {};
    for (const { group, version } of this.groupVersions().values()) {
      const document = this.openApiV3(group, version);
      const text = JSON.stringify(document.components.schemas).replace(/#\/components\/schemas\//g, '#/definitions/');
      Object.assign(definitions, JSON.parse(text));
      for (const [p, item] of Object.entries(document.paths)) {
        const converted = {};
        for (const [method, op] of Object.entries(item)) {
          if (method === 'parameters') continue;
          const { requestBody, responses: _responses, parameters, ...rest } = op;
          converted[method] = {
            ...rest,
            consumes: requestBody ? Object.keys(requestBody.content) : undefined,
            produces: ['application/json'],
            parameters: (parameters || []).map((prm) => ({ name: prm.name, in: prm.in, type: (prm.schema && prm.schema.type) || 'string', uniqueItems: true })),
            responses: { 200: { description: 'OK', schema: { $ref: op.responses[200].content['application/json'].schema.$ref.replace('#/components/schemas/', '#/definitions/') } } },
          };
        }
        paths[p] = converted;
      }
    }
    return { swagger: '2.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths, definitions };
  }
}

module.exports = { Registry, groupResource, kCrdGroupResource, compareVersions };
