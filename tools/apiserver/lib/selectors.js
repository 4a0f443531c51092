// Label and field selectors in the syntax of kube-apiserver's labelSelector/fieldSelector query parameters.
'use strict';

const { badRequest } = require('./errors');

// splitTopLevel splits on commas that are not inside "(...)" (set-based requirements hold commas).
function splitTopLevel(text) {
  const parts = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

// parseLabelSelector returns a list of requirements {key, op, values}; op is one of
// '=', '!=', 'in', 'notin', 'exists', '!'.
function parseLabelSelector(text) {
  if (!text) return [];
  return splitTopLevel(text).map((term) => {
    let match = /^([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (match) {
      const values = match[3].split(',').map((v) => v.trim()).filter((v) => v.length > 0);
      return { key: match[1], op: match[2], values };
    }
    match = /^!\s*([^\s!=(),]+)$/.exec(term);
    if (match) return { key: match[1], op: '!', values: [] };
    match = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/.exec(term);
    if (match) return { key: match[1], op: match[2] === '!=' ? '!=' : '=', values: [match[3]] };
    match = /^([^\s!=(),]+)$/.exec(term);
    if (match) return { key: match[1], op: 'exists', values: [] };
    throw badRequest(`unable to parse requirement: found '${term}', expected: in, notin, =, ==, !=, gt, lt`);
  });
}

function matchesLabels(requirements, labels) {
  const have = labels || {};
  return requirements.every(({ key, op, values }) => {
    const present = Object.prototype.hasOwnProperty.call(have, key);
    switch (op) {
      case '=': return present && have[key] === values[0];
      case '!=': return !present || have[key] !== values[0];
      case 'in': return present && values.includes(have[key]);
      case 'notin': return !present || !values.includes(have[key]);
      case 'exists': return present;
      case '!': return !present;
      default: return false;
    }
  });
}

// parseFieldSelector returns [{field, op: '='|'!=', value}]; fieldsFor decides which fields are known.
function parseFieldSelector(text) {
  if (!text) return [];
  return splitTopLevel(text).map((term) => {
    const match = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!match) throw badRequest(`invalid selector: '${term}'; can't understand '${term}'`);
    return { field: match[1].trim(), op: match[2] === '!=' ? '!=' : '=', value: match[3].trim() };
  });
}

function lookupPath(object, dotted) {
  let node = object;
  for (const part of dotted.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = node[part];
  }
  return node;
}

// checkFieldSelector rejects fields the resource does not index, with kube's wording.
function checkFieldSelector(requirements, allowedFields, kindLabel) {
  for (const { field } of requirements) {
    if (!allowedFields.includes(field)) {
      throw badRequest(`"${field}" is not a known field selector: only "${allowedFields.join('", "')}"`
        + (kindLabel ? ` are supported for ${kindLabel}` : ''));
    }
  }
}

function matchesFields(requirements, object) {
  return requirements.every(({ field, op, value }) => {
    let actual = lookupPath(object, field);
    if (actual === undefined || actual === null) actual = '';
    actual = String(actual);
    return op === '=' ? actual === value : actual !== value;
  });
}

module.exports = { parseLabelSelector, matchesLabels, parseFieldSelector, matchesFields, checkFieldSelector, lookupPath };
