// meta.k8s.io Table responses (what `kubectl get` prints): server-side columns for built-in kinds and
// additionalPrinterColumns for custom resources, with kube's human-readable ages.
'use strict';

// humanDuration mirrors k8s.io/apimachinery's duration.HumanDuration.
function humanDuration(ms) {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const days = Math.floor(hours / 24) % 365;
    return days === 0 ? `${Math.floor(hours / 24 / 365)}y` : `${Math.floor(hours / 24 / 365)}y${days}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

function age(timestamp) {
  if (!timestamp) return '<unknown>';
  const then = Date.parse(timestamp);
  if (Number.isNaN(then)) return '<unknown>';
  return humanDuration(Date.now() - then);
}

// jsonPathResults evaluates the JSONPath subset printer columns use: .a.b, [n], [*] and
// [?(@.key=="value")] filters.
function jsonPathResults(object, path) {
  let expression = path.trim();
  if (expression.startsWith('{') && expression.endsWith('}')) expression = expression.slice(1, -1);
  if (expression.startsWith('$')) expression = expression.slice(1);
  const tokens = [];
  const re = /\.([A-Za-z0-9_-]+)|\[(\d+|\*)\]|\[\?\(@\.([A-Za-z0-9_.-]+)\s*==\s*["']([^"']*)["']\)\]|\['([^']+)'\]/y;
  let match;
  while (re.lastIndex < expression.length && (match = re.exec(expression)) !== null) tokens.push(match);
  if (re.lastIndex !== expression.length && expression.length > 0) return [];
  let nodes = [object];
  for (const token of tokens) {
    const next = [];
    for (const node of nodes) {
      if (node === null || node === undefined) continue;
      if (token[1] !== undefined || token[5] !== undefined) {
        const key = token[1] !== undefined ? token[1] : token[5];
        if (typeof node === 'object' && !Array.isArray(node) && key in node) next.push(node[key]);
      } else if (token[2] !== undefined) {
        if (!Array.isArray(node)) continue;
        if (token[2] === '*') next.push(...node);
        else if (Number(token[2]) < node.length) next.push(node[Number(token[2])]);
      } else if (token[3] !== undefined) {
        if (!Array.isArray(node)) continue;
        for (const item of node) {
          let value = item;
          for (const part of token[3].split('.')) value = value && typeof value === 'object' ? value[part] : undefined;
          if (value !== undefined && String(value) === token[4]) next.push(item);
        }
      }
    }
    nodes = next;
  }
  return nodes;
}

function cellFor(type, value) {
  if (value === undefined || value === null) return null;
  switch (type) {
    case 'date': return age(value);
    case 'integer': return typeof value === 'number' ? Math.trunc(value) : null;
    case 'number': return typeof value === 'number' ? value : null;
    case 'boolean': return typeof value === 'boolean' ? value : null;
    default: return typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
}

function customColumns(columns) {
  const definitions = [{ name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names', priority: 0 }];
  const cellFns = [(object) => object.metadata.name];
  const effective = columns && columns.length > 0 ? columns
    : [{ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }];
  for (const column of effective) {
    definitions.push({ name: column.name, type: column.type, format: column.format || '', description: column.description || '', priority: column.priority || 0 });
    cellFns.push((object) => cellFor(column.type, jsonPathResults(object, column.jsonPath)[0]));
  }
  return { definitions, cellFns };
}

function partialMetadata(object) {
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: object.metadata };
}

// buildTable renders objects (already at the request version) as a Table.
function buildTable({ columns, objects, resourceVersion, includeObject, tableVersion }) {
  const rows = objects.map((object) => {
    const row = { cells: columns.cellFns.map((fn) => fn(object)) };
    if (includeObject === 'Object') row.object = object;
    else if (includeObject !== 'None') row.object = partialMetadata(object);
    return row;
  });
  return {
    kind: 'Table', apiVersion: `meta.k8s.io/${tableVersion || 'v1'}`,
    metadata: { resourceVersion: String(resourceVersion) },
    columnDefinitions: columns.definitions, rows,
  };
}

module.exports = { buildTable, customColumns, age, humanDuration, jsonPathResults, cellFor };
