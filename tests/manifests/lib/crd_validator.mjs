// Validates custom objects against a CRD's openAPIV3Schema the way a Kubernetes API server does:
// JSON schema (ajv), formats, list types, and the CEL rules in x-kubernetes-validations
// (evaluated by a real CEL implementation), with unknown fields rejected as kubectl's default
// strict field validation does.
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { evaluate, parse } from '@marcbachmann/cel-js';

// Returns a deep copy of `schema` in which every object schema that lists its properties and says
// nothing about additionalProperties rejects other properties. `metadata` stays open: the API
// server validates ObjectMeta itself.
function closeObjects(schema, path = '') {
  if (Array.isArray(schema)) return schema.map((s, i) => closeObjects(s, `${path}/${i}`));
  if (schema === null || typeof schema !== 'object') return schema;
  const out = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'x-kubernetes-validations' || key === 'enum' || key === 'required' ||
        key === 'x-kubernetes-list-map-keys') {
      out[key] = value;
    } else if (key === 'properties') {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, s]) => [name, closeObjects(s, `${path}/${name}`)]));
    } else {
      out[key] = closeObjects(value, `${path}/${key}`);
    }
  }
  if (out.properties && out.additionalProperties === undefined && path !== '/metadata') {
    out.additionalProperties = false;
  }
  return out;
}

function celValue(value) {
  // Kubernetes hands CEL integers as int64; cel-js wants BigInt for CEL ints.
  if (Array.isArray(value)) return value.map(celValue);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, celValue(v)]));
  }
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  return value;
}

function makeAjv() {
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
  addFormats(ajv, ['ipv4', 'date-time']);
  // Kubernetes formats ajv-formats does not know; the patterns next to them do the checking.
  ajv.addFormat('int32', { type: 'number', validate: (n) => n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addKeyword({ keyword: 'x-kubernetes-map-type', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'x-kubernetes-list-map-keys', schemaType: 'array' });
  ajv.addKeyword({ keyword: 'x-kubernetes-preserve-unknown-fields', schemaType: 'boolean' });
  ajv.addKeyword({
    keyword: 'x-kubernetes-list-type',
    type: 'array',
    schemaType: 'string',
    // Needs the sibling list-map-keys, so it reads the parent schema.
    validate: function listType(kind, data, parentSchema) {
      const errors = [];
      const seen = new Set();
      for (const item of data) {
        let key;
        if (kind === 'set') key = JSON.stringify(item);
        else if (kind === 'map') key = JSON.stringify((parentSchema['x-kubernetes-list-map-keys'] || []).map((k) => item[k]));
        else continue;
        if (seen.has(key)) errors.push({ keyword: 'x-kubernetes-list-type', message: `duplicate entry ${key} in a list of type ${kind}`, params: {} });
        seen.add(key);
      }
      listType.errors = errors;
      return errors.length === 0;
    },
  });
  ajv.addKeyword({
    keyword: 'x-kubernetes-validations',
    schemaType: 'array',
    validate: function celRules(rules, data) {
      const errors = [];
      for (const { rule, message } of rules) {
        let ok;
        try {
          ok = evaluate(rule, { self: celValue(data) });
        } catch (e) {
          ok = false;
          errors.push({ keyword: 'x-kubernetes-validations', message: `CEL rule failed to evaluate (${e.message}): ${rule}`, params: { rule } });
          continue;
        }
        if (ok !== true) errors.push({ keyword: 'x-kubernetes-validations', message: message || `failed rule: ${rule}`, params: { rule } });
      }
      celRules.errors = errors;
      return errors.length === 0;
    },
  });
  return ajv;
}

// Returns the openAPIV3Schema of `version` in `crd`, or throws.
export function versionSchema(crd, version) {
  const v = crd.spec.versions.find((x) => x.name === version);
  if (!v) throw new Error(`${crd.metadata.name} has no version ${version}`);
  return v.schema.openAPIV3Schema;
}

// Returns validate(object) -> array of "path: message" strings (empty when valid) for one CRD
// version. Like the API server on create, it drops `status` first when the version has a
// status subresource; pass { keepStatus: true } to validate the status too.
export function crdValidator(crd, version) {
  const ajv = makeAjv();
  const check = ajv.compile(closeObjects(versionSchema(crd, version)));
  const hasStatusSubresource = Boolean(crd.spec.versions.find((x) => x.name === version).subresources?.status);
  return (object, { keepStatus = false } = {}) => {
    const problems = [];
    const expected = `${crd.spec.group}/${version}`;
    if (object.apiVersion !== expected) problems.push(`apiVersion: is ${object.apiVersion}, this validator checks ${expected}`);
    if (object.kind !== crd.spec.names.kind) problems.push(`kind: is ${object.kind}, expected ${crd.spec.names.kind}`);
    if (crd.spec.scope === 'Cluster' && object.metadata?.namespace) problems.push('metadata.namespace: set on a cluster-scoped object');
    const body = structuredClone(object);
    if (hasStatusSubresource && !keepStatus) delete body.status;
    if (!check(body)) {
      for (const e of check.errors) problems.push(`${e.instancePath || '/'}: ${e.message}${e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ''}`);
    }
    return problems;
  };
}

// Every CEL rule in a schema, with the schema path it sits at.
export function celRules(schema, path = '') {
  const found = [];
  if (Array.isArray(schema)) {
    schema.forEach((s, i) => found.push(...celRules(s, `${path}[${i}]`)));
  } else if (schema !== null && typeof schema === 'object') {
    for (const r of schema['x-kubernetes-validations'] || []) found.push({ path, ...r });
    for (const [key, value] of Object.entries(schema)) {
      if (key !== 'x-kubernetes-validations') found.push(...celRules(value, `${path}/${key}`));
    }
  }
  return found;
}

// Checks the rules of a Kubernetes structural schema that a real API server enforces when the CRD
// is created: every node has a type (except inside oneOf/anyOf/allOf/not, where types are
// forbidden), list-map keys are required scalars, CEL rules parse. Returns problems.
export function structuralProblems(schema, path = '', insideLogic = false) {
  const problems = [];
  if (schema === null || typeof schema !== 'object') return problems;
  const logic = ['oneOf', 'anyOf', 'allOf', 'not'];
  if (!insideLogic && !schema.type && !schema['x-kubernetes-int-or-string'] && !schema['x-kubernetes-preserve-unknown-fields']) {
    problems.push(`${path || '/'}: no type`);
  }
  if (insideLogic) {
    for (const forbidden of ['type', 'description', 'default', 'additionalProperties', 'nullable']) {
      if (forbidden in schema) problems.push(`${path}: ${forbidden} is not allowed inside ${logic.join('/')}`);
    }
  }
  if (schema.type === 'object' && schema.properties && schema.additionalProperties) {
    problems.push(`${path}: properties and additionalProperties are mutually exclusive`);
  }
  const keys = schema['x-kubernetes-list-map-keys'];
  if (keys) {
    for (const k of keys) {
      if (!(schema.items?.required || []).includes(k)) problems.push(`${path}: list-map key ${k} must be required`);
    }
  }
  for (const { rule } of schema['x-kubernetes-validations'] || []) {
    try {
      parse(rule);
    } catch (e) {
      problems.push(`${path}: CEL rule does not parse (${e.message}): ${rule}`);
    }
  }
  for (const [name, sub] of Object.entries(schema.properties || {})) problems.push(...structuralProblems(sub, `${path}/${name}`, insideLogic));
  if (schema.items) problems.push(...structuralProblems(schema.items, `${path}/items`, insideLogic));
  if (typeof schema.additionalProperties === 'object') problems.push(...structuralProblems(schema.additionalProperties, `${path}/additionalProperties`, insideLogic));
  for (const l of logic) {
    const branches = Array.isArray(schema[l]) ? schema[l] : schema[l] ? [schema[l]] : [];
    branches.forEach((b, i) => problems.push(...structuralProblems(b, `${path}/${l}[${i}]`, true)));
  }
  return problems;
}
