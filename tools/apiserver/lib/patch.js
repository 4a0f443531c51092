// The PATCH body types kube-apiserver accepts: JSON merge patch (RFC 7386), JSON patch (RFC 6902),
// strategic merge patch for built-in kinds (merge keys from builtin.js and the $patch /
// $setElementOrder / $deleteFromPrimitiveList / $retainKeys directives), and server-side apply.
'use strict';

const { badRequest, ApiError } = require('./errors');
const { kMergeKeys, kMergePrimitiveLists } = require('./builtin');

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function mergePatch(target, patch) {
  if (!isObject(patch)) return structuredClone(patch);
  const result = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

function decodePointer(pointer) {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw badRequest(`invalid JSON pointer: ${JSON.stringify(pointer)}`);
  return pointer.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function jsonPatch(document, operations) {
  if (!Array.isArray(operations)) throw badRequest('json patch must be an array of operations');
  let doc = structuredClone(document);
  const resolve = (parts) => {
    let parent = doc;
    for (const part of parts.slice(0, -1)) {
      parent = Array.isArray(parent) ? parent[Number(part)] : parent ? parent[part] : undefined;
      if (parent === undefined || parent === null || typeof parent !== 'object') {
        throw new ApiError(422, `the server rejected our request due to an error in our request: missing path ${parts.join('/')}`);
      }
    }
    return { parent, last: parts[parts.length - 1] };
  };
  const read = (pointer) => {
    let node = doc;
    for (const part of decodePointer(pointer)) {
      if (node === null || typeof node !== 'object' || !(part in node)) throw new ApiError(422, `jsonpatch: missing value at ${pointer}`);
      node = node[part];
    }
    return structuredClone(node);
  };
  const add = (pointer, value) => {
    const parts = decodePointer(pointer);
    if (parts.length === 0) { doc = value; return; }
    const { parent, last } = resolve(parts);
    if (Array.isArray(parent)) {
      const index = last === '-' ? parent.length : Number(last);
      if (!(index >= 0 && index <= parent.length)) throw new ApiError(422, `jsonpatch: index out of range at ${pointer}`);
      parent.splice(index, 0, value);
    } else {
      parent[last] = value;
    }
  };
  const remove = (pointer) => {
    const parts = decodePointer(pointer);
    const { parent, last } = resolve(parts);
    if (Array.isArray(parent)) {
      const index = Number(last);
      if (!(index >= 0 && index < parent.length)) throw new ApiError(422, `jsonpatch: index out of range at ${pointer}`);
      parent.splice(index, 1);
    } else {
      if (!(last in parent)) throw new ApiError(422, `jsonpatch: remove operation does not apply: doc is missing path: ${pointer}`);
      delete parent[last];
    }
  };
  for (const op of operations) {
    switch (op.op) {
      case 'add': add(op.path, structuredClone(op.value)); break;
      case 'remove': remove(op.path); break;
      case 'replace': read(op.path); remove(op.path); add(op.path, structuredClone(op.value)); break;
      case 'move': { const value = read(op.from); remove(op.from); add(op.path, value); break; }
      case 'copy': add(op.path, read(op.from)); break;
      case 'test':
        if (JSON.stringify(read(op.path)) !== JSON.stringify(op.value)) {
          throw new ApiError(422, `the server rejected our request due to an error in our request: testing value ${op.path} failed`);
        }
        break;
      default: throw badRequest(`unexpected json patch operation ${JSON.stringify(op.op)}`);
    }
  }
  return doc;
}

// strategicMerge applies a strategic merge patch for built-in kinds.
function strategicMerge(target, patch) {
  if (!isObject(patch)) return structuredClone(patch);
  if (patch.$patch === 'replace') {
    const copy = { ...patch };
    delete copy.$patch;
    return stripDirectives(copy);
  }
  if (patch.$patch === 'delete') return undefined;
  const result = isObject(target) ? { ...target } : {};
  if (Array.isArray(patch.$retainKeys)) {
    for (const key of Object.keys(result)) if (!patch.$retainKeys.includes(key)) delete result[key];
  }
  for (const [key, value] of Object.entries(patch)) {
    if (key === '$retainKeys' || key === '$patch') continue;
    if (key.startsWith('$setElementOrder/')) continue;
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      const field = key.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(result[field])) result[field] = result[field].filter((item) => !value.includes(item));
      continue;
    }
    if (value === null) {
      delete result[key];
    } else if (Array.isArray(value)) {
      result[key] = mergeList(key, result[key], value, patch[`$setElementOrder/${key}`]);
    } else if (isObject(value)) {
      const merged = strategicMerge(result[key], value);
      if (merged === undefined) delete result[key]; else result[key] = merged;
    } else {
      result[key] = value;
    }
  }
  return result;
}

function stripDirectives(value) {
  if (Array.isArray(value)) return value.map(stripDirectives);
  if (!isObject(value)) return value;
  const out = {};
  for (const [k, v] of Object.entries(value)) if (!k.startsWith('$')) out[k] = stripDirectives(v);
  return out;
}

function mergeList(field, current, patchList, order) {
  let mergeKey = kMergeKeys[field];
  // A Service's ports merge on port, a container's on containerPort (same field name in the Go types).
  if (field === 'ports' && patchList.every((item) => isObject(item) && item.containerPort === undefined && item.port !== undefined)) mergeKey = 'port';
  if (kMergePrimitiveLists.has(field)) {
    const out = Array.isArray(current) ? [...current] : [];
    for (const item of patchList) if (!out.includes(item)) out.push(item);
    return out;
  }
  if (!mergeKey || !patchList.every((item) => isObject(item))) {
    if (patchList.length === 1 && isObject(patchList[0]) && patchList[0].$patch === 'replace') return [];
    return stripDirectives(patchList);
  }
  if (patchList.some((item) => item.$patch === 'replace')) {
    return stripDirectives(patchList.filter((item) => item.$patch !== 'replace'));
  }
  const out = Array.isArray(current) ? current.map((item) => structuredClone(item)) : [];
  for (const item of patchList) {
    const index = out.findIndex((existing) => isObject(existing) && existing[mergeKey] === item[mergeKey]);
    if (item.$patch === 'delete') {
      if (index >= 0) out.splice(index, 1);
    } else if (index >= 0) {
      out[index] = strategicMerge(out[index], item);
    } else {
      out.push(stripDirectives(item));
    }
  }
  if (Array.isArray(order)) {
    const rank = (item) => {
      const i = order.findIndex((o) => isObject(o) && o[mergeKey] === item[mergeKey]);
      return i < 0 ? order.length : i;
    };
    out.sort((a, b) => rank(a) - rank(b));
  }
  return out;
}

// Server-side apply, simplified: each Apply manager owns the leaf paths of its last applied
// configuration (lists are atomic); fields a manager applied before and no longer applies are
// removed; conflicts are reported only between different Apply managers.
function leafPaths(value, prefix, out) {
  if (isObject(value) && Object.keys(value).length > 0) {
    for (const [key, child] of Object.entries(value)) leafPaths(child, [...prefix, key], out);
  } else {
    out.push(prefix);
  }
  return out;
}

function pathsToFields(paths) {
  const root = {};
  for (const p of paths) {
    let node = root;
    for (const part of p) {
      const key = `f:${part}`;
      if (!node[key]) node[key] = {};
      node = node[key];
    }
  }
  return root;
}

function fieldsToPaths(fields, prefix, out) {
  const keys = Object.keys(fields || {}).filter((k) => k.startsWith('f:'));
  if (keys.length === 0 && prefix.length > 0) out.push(prefix);
  for (const key of keys) fieldsToPaths(fields[key], [...prefix, key.slice(2)], out);
  return out;
}

function getPath(object, p) {
  let node = object;
  for (const part of p) {
    if (!isObject(node) || !(part in node)) return undefined;
    node = node[part];
  }
  return node;
}

function setPath(object, p, value) {
  let node = object;
  for (const part of p.slice(0, -1)) {
    if (!isObject(node[part])) node[part] = {};
    node = node[part];
  }
  node[p[p.length - 1]] = structuredClone(value);
}

function deletePath(object, p) {
  const parents = [];
  let node = object;
  for (const part of p.slice(0, -1)) {
    if (!isObject(node[part])) return;
    parents.push([node, part]);
    node = node[part];
  }
  delete node[p[p.length - 1]];
  for (let i = parents.length - 1; i >= 0; i--) {
    const [parent, key] = parents[i];
    if (isObject(parent[key]) && Object.keys(parent[key]).length === 0) delete parent[key];
    else break;
  }
}

const kIgnoredApplyPaths = [['apiVersion'], ['kind'], ['metadata', 'name'], ['metadata', 'namespace'],
  ['metadata', 'resourceVersion'], ['metadata', 'uid'], ['metadata', 'managedFields'],
  ['metadata', 'creationTimestamp'], ['metadata', 'generation']];

function isIgnored(p) {
  return kIgnoredApplyPaths.some((ignored) => ignored.length <= p.length && ignored.every((part, i) => p[i] === part));
}

// serverSideApply returns {object, managedFields}; scope limits the paths considered ('status' for
// the status subresource, 'main' for everything but status).
function serverSideApply({ current, applied, manager, force, scope, apiVersion }) {
  const result = current ? structuredClone(current) : {};
  const inScope = (p) => !isIgnored(p) && (scope === 'status' ? p[0] === 'status' : p[0] !== 'status');
  const newPaths = leafPaths(applied, [], []).filter(inScope);
  const managed = (current && current.metadata && current.metadata.managedFields) || [];
  const mine = managed.find((m) => m.manager === manager && m.operation === 'Apply' && (m.subresource || '') === (scope === 'status' ? 'status' : ''));
  const oldPaths = mine ? fieldsToPaths(mine.fieldsV1, [], []) : [];
  const key = (p) => JSON.stringify(p);
  const conflicts = [];
  for (const other of managed) {
    if (other === mine || other.operation !== 'Apply') continue;
    const theirs = new Set(fieldsToPaths(other.fieldsV1, [], []).map(key));
    for (const p of newPaths) {
      if (theirs.has(key(p)) && JSON.stringify(getPath(result, p)) !== JSON.stringify(getPath(applied, p))) {
        conflicts.push({ manager: other.manager, apiVersion: other.apiVersion, path: p });
      }
    }
  }
  if (conflicts.length > 0 && !force) return { conflicts };
  const newSet = new Set(newPaths.map(key));
  for (const p of oldPaths) if (!newSet.has(key(p)) && inScope(p)) deletePath(result, p);
  for (const p of newPaths) setPath(result, p, getPath(applied, p));
  let nextManaged = managed.map((m) => {
    if (m === mine || m.operation !== 'Apply' || !force) return m;
    const remaining = fieldsToPaths(m.fieldsV1, [], []).filter((p) => !newSet.has(key(p)));
    return { ...m, fieldsV1: pathsToFields(remaining) };
  }).filter((m) => m === mine || fieldsToPaths(m.fieldsV1, [], []).length > 0 || m.operation !== 'Apply');
  const fieldsV1 = pathsToFields(newPaths);
  const entry = {
    manager, operation: 'Apply', apiVersion, time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    fieldsType: 'FieldsV1', fieldsV1,
  };
  if (scope === 'status') entry.subresource = 'status';
  if (mine && JSON.stringify(mine.fieldsV1) === JSON.stringify(fieldsV1) && mine.apiVersion === apiVersion) {
    // Unchanged ownership keeps the old entry, so an identical re-apply is a no-op.
    nextManaged = nextManaged.map((m) => (m === mine ? mine : m));
  } else if (mine) {
    nextManaged = nextManaged.map((m) => (m === mine ? entry : m));
  } else {
    nextManaged = [...nextManaged, entry];
  }
  if (!result.metadata) result.metadata = {};
  result.metadata.managedFields = nextManaged;
  return { object: result };
}

module.exports = { mergePatch, jsonPatch, strategicMerge, serverSideApply };
