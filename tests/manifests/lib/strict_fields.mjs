// Finds unknown fields in Kubernetes objects, as kubectl's default strict field validation does
// on a real API server. kubernetes-models' validate() checks types, required fields and enums
// but lets unknown fields through, so this walks the object along the field lists of the same
// package's type declarations (.d.ts, generated from the upstream OpenAPI schema).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const modelsDir = path.dirname(require.resolve('kubernetes-models/package.json'));

function stripComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

// Splits `text` at `separator` characters that are not nested in {}, <> or ().
function splitTopLevel(text, separator) {
  const parts = [];
  let depth = 0;
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    if (quoted) continue;
    if ('{<('.includes(c)) depth++;
    else if ('}>)'.includes(c)) depth--;
    else if (c === separator && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter(Boolean);
}

const cache = new Map();

// The type declared by a .d.ts module: { kind: 'object', fields: Map<name, type> } or scalar.
function moduleType(file) {
  if (cache.has(file)) return cache.get(file);
  const text = stripComments(fs.readFileSync(file, 'utf8'));
  const imports = new Map();
  for (const m of text.matchAll(/import \{([^}]*)\} from "([^"]+)"/g)) {
    for (const name of m[1].split(',').map((s) => s.trim())) imports.set(name, m[2]);
  }
  const placeholder = { kind: 'object', fields: new Map() };
  cache.set(file, placeholder);  // recursive types (JSONSchemaProps) refer to themselves
  const header = text.match(/export interface (I\w+)(?: extends [\w, ]+)? \{/);
  if (!header) {
    cache.set(file, { kind: 'scalar' });  // type aliases: IntOrString, Quantity, ...
    return cache.get(file);
  }
  let depth = 0;
  let end = header.index + header[0].length - 1;
  for (; end < text.length; end++) {
    if (text[end] === '{') depth++;
    else if (text[end] === '}' && --depth === 0) break;
  }
  const body = text.slice(header.index + header[0].length, end);
  if (!body.trim()) {
    // Upstream's "props or array" / "props or bool" are empty interfaces here: a schema, a list
    // of schemas, or a boolean.
    const props = path.join(path.dirname(file), 'JSONSchemaProps.d.ts');
    const either = /JSONSchemaPropsOr(Array|Bool)\.d\.ts$/.test(file) && fs.existsSync(props);
    cache.set(file, either ? { kind: 'schemaOr', schema: () => moduleType(props) } : { kind: 'scalar' });
    return cache.get(file);
  }
  const context = { file, imports, self: header[1] };
  Object.assign(placeholder, parseMembers(body, context));
  return placeholder;
}

function parseMembers(body, context) {
  const fields = new Map();
  let map = null;
  for (const member of splitTopLevel(body, ';')) {
    const index = member.match(/^\[key: string\]:\s*([\s\S]+)$/);
    if (index) {
      map = parseType(index[1], context);
      continue;
    }
    const m = member.match(/^"([^"]+)"\??:\s*([\s\S]+)$/);
    if (!m) throw new Error(`${context.file}: cannot read member ${member}`);
    fields.set(m[1], m[2]);
  }
  if (map) return { kind: 'map', value: map };
  // Field types resolve lazily: many are never visited.
  return { kind: 'object', fields, context };
}

function parseType(text, context) {
  const t = text.trim();
  const array = t.match(/^Array<([\s\S]+)>$/);
  if (array) return { kind: 'array', item: parseType(array[1], context) };
  if (t.startsWith('{')) return parseMembers(t.slice(1, t.lastIndexOf('}')), context);
  if (/^I\w+$/.test(t)) {
    const from = context.imports.get(t);
    if (!from) return moduleType(context.file);  // the module's own interface
    const base = from.startsWith('.')
      ? path.resolve(path.dirname(context.file), from)
      : require.resolve(from, { paths: [modelsDir] }).replace(/\.js$/, '');
    return moduleType(`${base}.d.ts`);
  }
  return { kind: 'scalar' };  // string, number, boolean, literal unions, any
}

function fieldType(objectType, name) {
  const raw = objectType.fields.get(name);
  if (raw === undefined) return undefined;
  if (typeof raw === 'string') objectType.fields.set(name, parseType(raw, objectType.context));
  return objectType.fields.get(name);
}

// The .d.ts of the model class for apiVersion/kind, e.g. apps/v1 Deployment.
export function modelFile(apiVersion, kind) {
  const group = apiVersion.includes('/') ? apiVersion : `v1`;
  const file = path.join(modelsDir, group, `${kind}.d.ts`);
  if (!fs.existsSync(file)) throw new Error(`kubernetes-models has no ${apiVersion} ${kind}`);
  return file;
}

// Returns ["spec.template.spec.containers[0].imagee: unknown field", ...].
export function unknownFields(object) {
  const problems = [];
  const walk = (value, type, where) => {
    if (value === null || value === undefined || type.kind === 'scalar') return;
    if (type.kind === 'schemaOr') {
      if (Array.isArray(value)) value.forEach((v, i) => walk(v, type.schema(), `${where}[${i}]`));
      else if (typeof value === 'object') walk(value, type.schema(), where);
      return;
    }
    if (type.kind === 'array') {
      if (Array.isArray(value)) value.forEach((v, i) => walk(v, type.item, `${where}[${i}]`));
      return;
    }
    if (typeof value !== 'object') return;
    if (type.kind === 'map') {
      for (const [k, v] of Object.entries(value)) walk(v, type.value, `${where}.${k}`);
      return;
    }
    for (const [k, v] of Object.entries(value)) {
      const t = fieldType(type, k);
      if (!t) problems.push(`${where ? `${where}.` : ''}${k}: unknown field`);
      else walk(v, t, where ? `${where}.${k}` : k);
    }
  };
  walk(object, moduleType(modelFile(object.apiVersion, object.kind)), '');
  return problems;
}
