// Structural OpenAPI v3 schemas of CRDs: pruning (and unknown-field reports for fieldValidation),
// defaulting, and validation with kube-apiserver's field error wording, including the CEL rules in
// x-kubernetes-validations (see cel.js for the supported subset).
'use strict';

const cel = require('./cel');

const kDnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const kDnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const kQualifiedName = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const kLabelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const kObjectMetaFields = new Set(['name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion',
  'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations',
  'ownerReferences', 'finalizers', 'managedFields']);

function joinPath(base, key) {
  return base ? `${base}.${key}` : key;
}

// formatValue prints a value as kube's field.Error does (%q for strings, %v for numbers).
function formatValue(value) {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return 'null';
  return JSON.stringify(value);
}

function jsonType(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

// prune removes fields the schema does not declare (unless x-kubernetes-preserve-unknown-fields) and
// null values of non-nullable fields, collecting the unknown fields' paths for fieldValidation.
function prune(schema, value, path, unknown, isRoot = false) {
  if (!schema || typeof value !== 'object' || value === null) return;
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((item, i) => prune(schema.items, item, `${path}[${i}]`, unknown));
    return;
  }
  const properties = schema.properties || {};
  const embedded = schema['x-kubernetes-embedded-resource'] === true;
  for (const key of Object.keys(value)) {
    const childPath = joinPath(path, key);
    if ((isRoot || embedded) && (key === 'apiVersion' || key === 'kind')) continue;
    if ((isRoot || embedded) && key === 'metadata') {
      pruneMetadata(value.metadata, childPath, unknown);
      continue;
    }
    let childSchema = properties[key];
    if (!childSchema && isObject(schema.additionalProperties)) childSchema = schema.additionalProperties;
    if (!childSchema) {
      if (schema['x-kubernetes-preserve-unknown-fields'] === true || schema.additionalProperties === true) continue;
      unknown.push(childPath);
      delete value[key];
      continue;
    }
    if (value[key] === null && childSchema.nullable !== true) {
      delete value[key];
      continue;
    }
    prune(childSchema, value[key], childPath, unknown);
  }
}

function pruneMetadata(metadata, path, unknown) {
  if (!isObject(metadata)) return;
  for (const key of Object.keys(metadata)) {
    if (!kObjectMetaFields.has(key)) {
      unknown.push(joinPath(path, key));
      delete metadata[key];
    } else if (metadata[key] === null) {
      delete metadata[key];
    }
  }
}

function clone(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

function applyDefaults(schema, value) {
  if (!schema || typeof value !== 'object' || value === null) return;
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((item) => applyDefaults(schema.items, item));
    return;
  }
  for (const [key, childSchema] of Object.entries(schema.properties || {})) {
    if (!(key in value) && childSchema.default !== undefined) value[key] = clone(childSchema.default);
    if (key in value) applyDefaults(childSchema, value[key]);
  }
  if (isObject(schema.additionalProperties)) {
    for (const key of Object.keys(value)) {
      if (!(schema.properties && key in schema.properties)) applyDefaults(schema.additionalProperties, value[key]);
    }
  }
}

function checkFormat(format, value) {
  switch (format) {
    case 'ipv4': return cel.parseIp(value) !== null && cel.parseIp(value).family === 4;
    case 'ipv6': return cel.parseIp(value) !== null && cel.parseIp(value).family === 6;
    case 'cidr': return cel.parseCidr(value) !== null;
    case 'mac': return /^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(value);
    case 'uuid': return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
    case 'hostname': return value.length <= 255 && /^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$/.test(value);
    case 'date-time': case 'datetime':
      return /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(value);
    case 'date': return /^\d{4}-\d{2}-\d{2}$/.test(value);
    case 'byte': return /^[A-Za-z0-9+/]*={0,2}$/.test(value) && value.length % 4 === 0;
    case 'email': return /^[^@\s]+@[^@\s]+$/.test(value);
    default: return true;
  }
}

function typeMatches(type, value, schema) {
  if (schema['x-kubernetes-int-or-string'] === true) return typeof value === 'string' || Number.isInteger(value);
  if (!type) return true;
  const actual = jsonType(value);
  if (type === 'number') return actual === 'number' || actual === 'integer';
  return actual === type;
}

// validateNode appends causes {reason, field, message} for value at path; compiled CEL rules are
// cached on the schema node.
function validateNode(schema, value, path, causes, oldValue) {
  if (!schema) return;
  const field = path;
  const invalid = (message) => causes.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: ${formatValue(value)}: ${message}` });
  const label = path || '<root>';
  if (value === null) {
    if (schema.nullable !== true && !schema['x-kubernetes-preserve-unknown-fields']) {
      causes.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: "null": ${label} in body must be of type ${schema.type || 'object'}: "null"` });
    }
    return;
  }
  if (!typeMatches(schema.type, value, schema)) {
    const actual = jsonType(value);
    causes.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: "${actual}": ${label} in body must be of type ${schema.type}: "${actual}"` });
    return;
  }
  const before = causes.length;
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    causes.push({ reason: 'FieldValueNotSupported', field, message: `Unsupported value: ${formatValue(value)}: supported values: ${schema.enum.map(formatValue).join(', ')}` });
  }
  if (typeof value === 'string') {
    if (schema.maxLength !== undefined && [...value].length > schema.maxLength) {
      causes.push({ reason: 'FieldValueTooLong', field, message: `Too long: may not be more than ${schema.maxLength} bytes` });
    }
    if (schema.minLength !== undefined && [...value].length < schema.minLength) invalid(`${label} in body should be at least ${schema.minLength} chars long`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) invalid(`${label} in body should match '${schema.pattern}'`);
    if (schema.format && !checkFormat(schema.format, value)) invalid(`${label} in body must be of type ${schema.format}: ${formatValue(value)}`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && (schema.exclusiveMinimum ? value <= schema.minimum : value < schema.minimum)) {
      invalid(`${label} in body should be greater than ${schema.exclusiveMinimum ? '' : 'or equal to '}${schema.minimum}`);
    }
    if (schema.maximum !== undefined && (schema.exclusiveMaximum ? value >= schema.maximum : value > schema.maximum)) {
      invalid(`${label} in body should be less than ${schema.exclusiveMaximum ? '' : 'or equal to '}${schema.maximum}`);
    }
    if (schema.multipleOf !== undefined && value % schema.multipleOf !== 0) invalid(`${label} in body should be a multiple of ${schema.multipleOf}`);
  }
  if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      causes.push({ reason: 'FieldValueTooMany', field, message: `Too many: ${value.length}: must have at most ${schema.maxItems} items` });
    }
    if (schema.minItems !== undefined && value.length < schema.minItems) invalid(`${label} in body should have at least ${schema.minItems} items`);
    checkListType(schema, value, path, causes);
    if (schema.items) value.forEach((item, i) => validateNode(schema.items, item, `${path}[${i}]`, causes, undefined));
  }
  if (isObject(value)) {
    for (const required of schema.required || []) {
      if (!(required in value)) causes.push({ reason: 'FieldValueRequired', field: joinPath(path, required), message: 'Required value' });
    }
    if (schema.maxProperties !== undefined && Object.keys(value).length > schema.maxProperties) {
      causes.push({ reason: 'FieldValueTooMany', field, message: `Too many: ${Object.keys(value).length}: must have at most ${schema.maxProperties} items` });
    }
    if (schema.minProperties !== undefined && Object.keys(value).length < schema.minProperties) {
      invalid(`${label} in body should have at least ${schema.minProperties} properties`);
    }
    for (const [key, child] of Object.entries(value)) {
      if (path === '' && (key === 'metadata' || key === 'apiVersion' || key === 'kind')) continue;
      const childSchema = (schema.properties && schema.properties[key])
        || (isObject(schema.additionalProperties) ? schema.additionalProperties : null);
      const oldChild = isObject(oldValue) ? oldValue[key] : undefined;
      if (childSchema) validateNode(childSchema, child, joinPath(path, key), causes, oldChild);
    }
  }
  checkCombinators(schema, value, path, label, causes);
  if (schema['x-kubernetes-validations']) checkRules(schema, value, path, causes, oldValue, causes.length > before);
}

function valueMatchesSchema(schema, value) {
  const causes = [];
  validateNode(schema, value, 'x', causes, undefined);
  return causes.length === 0;
}

function checkCombinators(schema, value, path, label, causes) {
  const field = path;
  const describe = jsonType(value) === 'array' ? 'array' : jsonType(value) === 'object' ? 'object' : formatValue(value);
  const shown = describe === 'array' || describe === 'object' ? `"${describe}"` : describe;
  if (schema.allOf) schema.allOf.forEach((sub) => validateNode(sub, value, path, causes, undefined));
  if (schema.oneOf) {
    const matches = schema.oneOf.filter((sub) => valueMatchesSchema(sub, value)).length;
    if (matches !== 1) {
      causes.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: ${shown}: ${label} in body must validate one and only one schema (oneOf). Found ${matches === 0 ? 'none' : matches} valid alternatives` });
    }
  }
  if (schema.anyOf && !schema.anyOf.some((sub) => valueMatchesSchema(sub, value))) {
    causes.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: ${shown}: ${label} in body must validate at least one schema (anyOf)` });
  }
  if (schema.not && valueMatchesSchema(schema.not, value)) {
    causes.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: ${shown}: ${label} in body must not validate the schema (not)` });
  }
}

function checkListType(schema, value, path, causes) {
  const listType = schema['x-kubernetes-list-type'];
  if (listType === 'set') {
    const seen = new Set();
    value.forEach((item, i) => {
      const key = JSON.stringify(item);
      if (seen.has(key)) causes.push({ reason: 'FieldValueDuplicate', field: `${path}[${i}]`, message: `Duplicate value: ${formatValue(item)}` });
      seen.add(key);
    });
  } else if (listType === 'map') {
    const keys = schema['x-kubernetes-list-map-keys'] || [];
    const seen = new Set();
    value.forEach((item, i) => {
      if (!isObject(item)) return;
      const key = JSON.stringify(keys.map((k) => item[k]));
      if (seen.has(key)) {
        const shown = keys.map((k) => `"${k}":${formatValue(item[k])}`).join(', ');
        causes.push({ reason: 'FieldValueDuplicate', field: `${path}[${i}]`, message: `Duplicate value: map[string]interface {}{${shown}}` });
      }
      seen.add(key);
    });
  }
}

function compiledRules(schema) {
  if (!schema.__compiledRules) {
    Object.defineProperty(schema, '__compiledRules', {
      enumerable: false,
      value: schema['x-kubernetes-validations'].map((rule) => ({ rule, ast: cel.compile(rule.rule) })),
    });
  }
  return schema.__compiledRules;
}

// checkRules evaluates CEL rules; when the schema already failed below this node, a rule that
// cannot evaluate (bad data a real server's type-checked rule would never see) is not reported.
function checkRules(schema, value, path, causes, oldValue, schemaFailed) {
  const describe = Array.isArray(value) ? 'array' : isObject(value) ? 'object' : null;
  for (const { rule, ast } of compiledRules(schema)) {
    const usesOld = /\boldSelf\b/.test(rule.rule);
    if (usesOld && oldValue === undefined) continue; // transition rules only run on updates
    let ok;
    let failure = null;
    try {
      ok = cel.evaluate(ast, { self: value, oldSelf: oldValue });
    } catch (err) {
      failure = `${err.message} evaluating rule: ${rule.rule}`;
    }
    if (ok === true || (failure && schemaFailed)) continue;
    const field = rule.fieldPath ? joinPath(path, rule.fieldPath.replace(/^\./, '')) : path;
    const message = failure || rule.message || `failed rule: ${rule.rule}`;
    const shown = describe ? `"${describe}"` : formatValue(value);
    const reason = rule.reason || 'FieldValueInvalid';
    let text;
    if (reason === 'FieldValueForbidden') text = `Forbidden: ${message}`;
    else if (reason === 'FieldValueRequired') text = `Required value: ${message}`;
    else if (reason === 'FieldValueDuplicate') text = `Duplicate value: ${message}`;
    else text = `Invalid value: ${shown}: ${message}`;
    causes.push({ reason, field, message: text });
  }
}

// compileAllRules surfaces CEL syntax errors when a CRD is created; returns a list of messages.
function compileAllRules(schema, path, errors) {
  if (!schema || typeof schema !== 'object') return errors;
  if (Array.isArray(schema['x-kubernetes-validations'])) {
    for (const rule of schema['x-kubernetes-validations']) {
      try {
        cel.compile(String(rule.rule));
      } catch (err) {
        errors.push(`${path}.x-kubernetes-validations: Invalid value: ${JSON.stringify(rule.rule)}: compilation failed: ${err.message}`);
      }
    }
  }
  for (const [key, child] of Object.entries(schema.properties || {})) compileAllRules(child, `${path}.properties[${key}]`, errors);
  if (schema.items) compileAllRules(schema.items, `${path}.items`, errors);
  if (isObject(schema.additionalProperties)) compileAllRules(schema.additionalProperties, `${path}.additionalProperties`, errors);
  return errors;
}

function labelKeyError(key) {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : '';
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (slash >= 0 && (prefix.length === 0 || prefix.length > 253 || !kDnsSubdomain.test(prefix))) {
    return 'prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \'-\' or \'.\', and must start and end with an alphanumeric character';
  }
  if (name.length === 0 || name.length > 63 || !kQualifiedName.test(name)) {
    return 'name part must consist of alphanumeric characters, \'-\', \'_\' or \'.\', and must start and end with an alphanumeric character (e.g. \'MyName\',  or \'my.name\',  or \'123-abc\', regex used for validation is \'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]\')';
  }
  return null;
}

// validateObjectMeta checks name, labels and annotations the way kube's ValidateObjectMeta does.
function validateObjectMeta(metadata, { nameIsDnsLabel } = {}) {
  const causes = [];
  const name = metadata.name;
  if (!name) {
    causes.push({ reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' });
  } else if (nameIsDnsLabel) {
    if (name.length > 63 || !kDnsLabel.test(name)) {
      causes.push({ reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: ${formatValue(name)}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')` });
    }
  } else if (name.length > 253 || !kDnsSubdomain.test(name)) {
    causes.push({ reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: ${formatValue(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')` });
  }
  for (const [field, map] of [['labels', metadata.labels], ['annotations', metadata.annotations]]) {
    if (map === undefined) continue;
    if (!isObject(map)) {
      causes.push({ reason: 'FieldValueInvalid', field: `metadata.${field}`, message: `Invalid value: ${formatValue(map)}: must be a map of strings` });
      continue;
    }
    for (const [key, value] of Object.entries(map)) {
      const keyError = labelKeyError(key);
      if (keyError) causes.push({ reason: 'FieldValueInvalid', field: `metadata.${field}`, message: `Invalid value: ${formatValue(key)}: ${keyError}` });
      if (typeof value !== 'string') {
        causes.push({ reason: 'FieldValueInvalid', field: `metadata.${field}.${key}`, message: `Invalid value: ${formatValue(value)}: must be a string` });
      } else if (field === 'labels' && (value.length > 63 || !kLabelValue.test(value))) {
        causes.push({ reason: 'FieldValueInvalid', field: `metadata.labels`, message: `Invalid value: ${formatValue(value)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')` });
      }
    }
  }
  if (metadata.finalizers !== undefined && !Array.isArray(metadata.finalizers)) {
    causes.push({ reason: 'FieldValueInvalid', field: 'metadata.finalizers', message: 'Invalid value: must be a list of strings' });
  }
  return causes;
}

module.exports = {
  prune, applyDefaults, validateNode, validateObjectMeta, compileAllRules, formatValue, isObject, clone,
};
