// A small subset of CEL for x-kubernetes-validations rules: literals, self/oldSelf, field access,
// indexing, has(), !, &&, ||, ?:, comparisons, arithmetic, in, size(), int()/string()/double(),
// string methods (split, startsWith, endsWith, contains, matches, ...), list macros (all, exists,
// exists_one, map, filter) and the Kubernetes ip()/cidr() helpers. Unsupported syntax is a compile
// error, reported when the CRD is created, never silently ignored.
'use strict';

class CelError extends Error {}

const kOperators = ['&&', '||', '==', '!=', '<=', '>=', '<', '>', '!', '+', '-', '*', '/', '%', '?', ':',
  '.', ',', '(', ')', '[', ']', '{', '}'];

function tokenize(source) {
  const tokens = [];
  let i = 0;
  while (i < source.length) {
    const ch = source[i];
    if (/\s/.test(ch)) { i++; continue; }
    const rest = source.slice(i);
    let match = /^(\d+\.\d+([eE][+-]?\d+)?|\d+[eE][+-]?\d+)/.exec(rest);
    if (match) { tokens.push({ kind: 'num', value: parseFloat(match[0]), isInt: false }); i += match[0].length; continue; }
    match = /^(0x[0-9a-fA-F]+|\d+)(u|U)?/.exec(rest);
    if (match) { tokens.push({ kind: 'num', value: Number(match[1]), isInt: true }); i += match[0].length; continue; }
    match = /^[rR]?('''|"""|'|")/.exec(rest);
    if (match) {
      const raw = rest[0] === 'r' || rest[0] === 'R';
      const quote = match[1];
      let j = i + match[0].length;
      let value = '';
      for (;;) {
        if (j >= source.length) throw new CelError(`unterminated string in ${source}`);
        if (source.startsWith(quote, j)) { j += quote.length; break; }
        if (source[j] === '\\' && !raw) {
          const esc = source[j + 1];
          const map = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '`': '`', '?': '?', a: '\x07', b: '\b', f: '\f', v: '\v' };
          if (!(esc in map)) throw new CelError(`unsupported escape \\${esc} in ${source}`);
          value += map[esc];
          j += 2;
        } else {
          value += source[j];
          j++;
        }
      }
      tokens.push({ kind: 'str', value });
      i = j;
      continue;
    }
    match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (match) { tokens.push({ kind: 'id', value: match[0] }); i += match[0].length; continue; }
    const op = kOperators.find((o) => rest.startsWith(o));
    if (!op) throw new CelError(`unexpected character '${ch}' in ${source}`);
    tokens.push({ kind: 'op', value: op });
    i += op.length;
  }
  tokens.push({ kind: 'end' });
  return tokens;
}

class Parser {
  constructor(source) {
    this.source = source;
    this.tokens = tokenize(source);
    this.pos = 0;
  }

  peek() { return this.tokens[this.pos]; }

  isOp(value) { const t = this.peek(); return t.kind === 'op' && t.value === value; }

  expectOp(value) {
    if (!this.isOp(value)) throw new CelError(`expected '${value}' in ${this.source}`);
    this.pos++;
  }

  parse() {
    const node = this.conditional();
    if (this.peek().kind !== 'end') throw new CelError(`unexpected trailing input in ${this.source}`);
    return node;
  }

  conditional() {
    const test = this.binary(0);
    if (!this.isOp('?')) return test;
    this.pos++;
    const then = this.conditional();
    this.expectOp(':');
    const otherwise = this.conditional();
    return { type: 'cond', test, then, otherwise };
  }

  binary(level) {
    const levels = [['||'], ['&&'], ['==', '!=', '<', '<=', '>', '>=', 'in'], ['+', '-'], ['*', '/', '%']];
    if (level === levels.length) return this.unary();
    let left = this.binary(level + 1);
    for (;;) {
      const t = this.peek();
      const isMatch = (t.kind === 'op' && levels[level].includes(t.value))
        || (t.kind === 'id' && t.value === 'in' && levels[level].includes('in'));
      if (!isMatch) return left;
      this.pos++;
      const right = this.binary(level + 1);
      left = { type: 'binary', op: t.value, left, right };
    }
  }

  unary() {
    if (this.isOp('!')) { this.pos++; return { type: 'not', operand: this.unary() }; }
    if (this.isOp('-')) { this.pos++; return { type: 'neg', operand: this.unary() }; }
    return this.member();
  }

  args() {
    const list = [];
    this.expectOp('(');
    if (!this.isOp(')')) {
      for (;;) {
        list.push(this.conditional());
        if (this.isOp(',')) { this.pos++; continue; }
        break;
      }
    }
    this.expectOp(')');
    return list;
  }

  member() {
    let node = this.primary();
    for (;;) {
      if (this.isOp('.')) {
        this.pos++;
        const t = this.peek();
        if (t.kind !== 'id') throw new CelError(`expected a field name after '.' in ${this.source}`);
        this.pos++;
        if (this.isOp('(')) {
          const rawArgs = this.args();
          node = { type: 'method', target: node, name: t.value, args: rawArgs };
        } else {
          node = { type: 'select', operand: node, field: t.value };
        }
      } else if (this.isOp('[')) {
        this.pos++;
        const index = this.conditional();
        this.expectOp(']');
        node = { type: 'index', operand: node, index };
      } else {
        return node;
      }
    }
  }

  primary() {
    const t = this.peek();
    this.pos++;
    if (t.kind === 'num') return { type: 'lit', value: t.value };
    if (t.kind === 'str') return { type: 'lit', value: t.value };
    if (t.kind === 'id') {
      if (t.value === 'true') return { type: 'lit', value: true };
      if (t.value === 'false') return { type: 'lit', value: false };
      if (t.value === 'null') return { type: 'lit', value: null };
      if (this.isOp('(')) return { type: 'call', name: t.value, args: this.args() };
      return { type: 'ident', name: t.value };
    }
    if (t.kind === 'op' && t.value === '(') {
      const inner = this.conditional();
      this.expectOp(')');
      return inner;
    }
    if (t.kind === 'op' && t.value === '[') {
      const items = [];
      while (!this.isOp(']')) {
        items.push(this.conditional());
        if (this.isOp(',')) this.pos++; else break;
      }
      this.expectOp(']');
      return { type: 'list', items };
    }
    if (t.kind === 'op' && t.value === '{') {
      const entries = [];
      while (!this.isOp('}')) {
        const key = this.conditional();
        this.expectOp(':');
        entries.push([key, this.conditional()]);
        if (this.isOp(',')) this.pos++; else break;
      }
      this.expectOp('}');
      return { type: 'map', entries };
    }
    throw new CelError(`unexpected token in ${this.source}`);
  }
}

function compile(source) {
  const ast = new Parser(source).parse();
  checkNode(ast);
  return ast;
}

const kFunctions = new Set(['has', 'size', 'int', 'uint', 'double', 'string', 'bool', 'type', 'ip', 'cidr', 'isIP', 'isCIDR', 'matches', 'dyn']);
const kMethods = new Set(['size', 'startsWith', 'endsWith', 'contains', 'matches', 'split', 'lowerAscii', 'upperAscii',
  'trim', 'indexOf', 'lastIndexOf', 'join', 'replace', 'substring', 'all', 'exists', 'exists_one', 'map', 'filter',
  'family', 'isUnspecified', 'isLoopback', 'containsIP', 'containsCIDR', 'prefixLength', 'ip', 'masked', 'isCanonical']);

// checkNode rejects unknown functions at compile time, so a CRD author learns of it on create.
function checkNode(node) {
  if (!node || typeof node !== 'object') return;
  if (node.type === 'call' && !kFunctions.has(node.name)) throw new CelError(`undeclared reference to '${node.name}'`);
  if (node.type === 'method' && !kMethods.has(node.name)) throw new CelError(`undeclared reference to '${node.name}'`);
  if (node.type === 'call' && node.name === 'has' && (node.args.length !== 1 || node.args[0].type !== 'select')) {
    throw new CelError('invalid argument to has() macro');
  }
  for (const value of Object.values(node)) {
    if (Array.isArray(value)) value.forEach((v) => (Array.isArray(v) ? v.forEach(checkNode) : checkNode(v)));
    else if (value && typeof value === 'object') checkNode(value);
  }
}

function parseIp(text) {
  if (typeof text !== 'string') return null;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    if (parts.some((p, i) => p > 255 || (v4[i + 1].length > 1 && v4[i + 1][0] === '0'))) return null;
    return { celType: 'ip', family: 4, bytes: parts, text };
  }
  if (text.includes(':') && /^[0-9a-fA-F:.]+$/.test(text)) {
    const halves = text.split('::');
    if (halves.length > 2) return null;
    const groups = (h) => (h === '' ? [] : h.split(':'));
    const head = groups(halves[0]);
    const tail = halves.length === 2 ? groups(halves[1]) : [];
    const missing = 8 - head.length - tail.length;
    if ((halves.length === 1 && missing !== 0) || missing < 0) return null;
    const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill('0'), ...tail];
    if (all.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return null;
    const bytes = [];
    all.forEach((g) => { const n = parseInt(g, 16); bytes.push(n >> 8, n & 255); });
    return { celType: 'ip', family: 6, bytes, text };
  }
  return null;
}

function parseCidr(text) {
  if (typeof text !== 'string') return null;
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const ip = parseIp(text.slice(0, slash));
  const prefix = text.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(prefix) || Number(prefix) > ip.bytes.length * 8) return null;
  return { celType: 'cidr', ip, prefix: Number(prefix), text };
}

function compareBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function cidrContains(cidr, ip) {
  if (ip.family !== cidr.ip.family) return false;
  let bits = cidr.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 255 : (0xff << (8 - bits)) & 255;
    if ((ip.bytes[i] & mask) !== (cidr.ip.bytes[i] & mask)) return false;
  }
  return true;
}

function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (a.celType === 'ip' || a.celType === 'cidr') return a.celType === b.celType && a.text === b.text;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
}

function typeName(value) {
  if (value === null) return 'null_type';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'object') return value.celType || 'map';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'double';
  return typeof value === 'boolean' ? 'bool' : typeof value;
}

function compare(op, left, right) {
  let order;
  if (typeof left === 'number' && typeof right === 'number') order = left - right;
  else if (typeof left === 'string' && typeof right === 'string') order = left < right ? -1 : left > right ? 1 : 0;
  else if (typeof left === 'boolean' && typeof right === 'boolean') order = Number(left) - Number(right);
  else if (left && right && left.celType === 'ip' && right.celType === 'ip') order = compareBytes(left.bytes, right.bytes);
  else throw new CelError(`no such overload: ${typeName(left)} ${op} ${typeName(right)}`);
  return { '<': order < 0, '<=': order <= 0, '>': order > 0, '>=': order >= 0 }[op];
}

function evaluate(node, env) {
  switch (node.type) {
    case 'lit': return node.value;
    case 'ident':
      if (!(node.name in env)) throw new CelError(`undeclared reference to '${node.name}'`);
      return env[node.name];
    case 'list': return node.items.map((item) => evaluate(item, env));
    case 'map': return Object.fromEntries(node.entries.map(([k, v]) => [evaluate(k, env), evaluate(v, env)]));
    case 'select': {
      const operand = evaluate(node.operand, env);
      if (operand === null || typeof operand !== 'object' || Array.isArray(operand) || !(node.field in operand)) {
        throw new CelError(`no such key: ${node.field}`);
      }
      return operand[node.field];
    }
    case 'index': {
      const operand = evaluate(node.operand, env);
      const index = evaluate(node.index, env);
      if (Array.isArray(operand)) {
        if (typeof index !== 'number' || index < 0 || index >= operand.length) throw new CelError(`index out of bounds: ${index}`);
        return operand[index];
      }
      if (operand && typeof operand === 'object' && Object.prototype.hasOwnProperty.call(operand, index)) return operand[index];
      throw new CelError(`no such key: ${index}`);
    }
    case 'not': {
      const value = evaluate(node.operand, env);
      if (typeof value !== 'boolean') throw new CelError(`no such overload: !${typeName(value)}`);
      return !value;
    }
    case 'neg': {
      const value = evaluate(node.operand, env);
      if (typeof value !== 'number') throw new CelError(`no such overload: -${typeName(value)}`);
      return -value;
    }
    case 'cond': {
      const test = evaluate(node.test, env);
      if (typeof test !== 'boolean') throw new CelError('no such overload: ternary on non-bool');
      return test ? evaluate(node.then, env) : evaluate(node.otherwise, env);
    }
    case 'binary': return evaluateBinary(node, env);
    case 'call': return evaluateCall(node, env);
    case 'method': return evaluateMethod(node, env);
    default: throw new CelError(`unsupported expression ${node.type}`);
  }
}

// logical implements CEL's commutative && and ||: an error on one side is absorbed when the other
// side alone decides the result.
function logical(node, env) {
  const decisive = node.op === '||';
  let leftError = null;
  let left;
  try { left = evaluate(node.left, env); } catch (err) { leftError = err; }
  if (left === decisive) return decisive;
  const right = evaluate(node.right, env);
  if (right === decisive) return decisive;
  if (leftError) throw leftError;
  if (typeof left !== 'boolean' || typeof right !== 'boolean') throw new CelError(`no such overload: ${node.op} on non-bool`);
  return !decisive;
}

function evaluateBinary(node, env) {
  if (node.op === '&&' || node.op === '||') return logical(node, env);
  const left = evaluate(node.left, env);
  const right = evaluate(node.right, env);
  switch (node.op) {
    case '==': return deepEqual(left, right);
    case '!=': return !deepEqual(left, right);
    case '<': case '<=': case '>': case '>=': return compare(node.op, left, right);
    case 'in':
      if (Array.isArray(right)) return right.some((item) => deepEqual(item, left));
      if (right && typeof right === 'object') return Object.prototype.hasOwnProperty.call(right, left);
      throw new CelError(`no such overload: in ${typeName(right)}`);
    case '+':
      if (typeof left === 'number' && typeof right === 'number') return left + right;
      if (typeof left === 'string' && typeof right === 'string') return left + right;
      if (Array.isArray(left) && Array.isArray(right)) return [...left, ...right];
      throw new CelError(`no such overload: ${typeName(left)} + ${typeName(right)}`);
    case '-': case '*': case '/': case '%': {
      if (typeof left !== 'number' || typeof right !== 'number') throw new CelError(`no such overload: ${typeName(left)} ${node.op} ${typeName(right)}`);
      if (node.op === '-') return left - right;
      if (node.op === '*') return left * right;
      const integral = Number.isInteger(left) && Number.isInteger(right);
      if (right === 0 && integral) throw new CelError(node.op === '/' ? 'division by zero' : 'modulus by zero');
      if (node.op === '/') return integral ? Math.trunc(left / right) : left / right;
      return left % right;
    }
    default: throw new CelError(`unsupported operator ${node.op}`);
  }
}

function sizeOf(value) {
  if (typeof value === 'string') return [...value].length;
  if (Array.isArray(value)) return value.length;
  if (value && typeof value === 'object' && !value.celType) return Object.keys(value).length;
  throw new CelError(`no such overload: size(${typeName(value)})`);
}

function evaluateCall(node, env) {
  if (node.name === 'has') {
    const select = node.args[0];
    const operand = evaluate(select.operand, env);
    if (operand === null || typeof operand !== 'object' || Array.isArray(operand)) throw new CelError('invalid type for field selection');
    return Object.prototype.hasOwnProperty.call(operand, select.field) && operand[select.field] !== null;
  }
  const args = node.args.map((a) => evaluate(a, env));
  const [arg] = args;
  switch (node.name) {
    case 'size': return sizeOf(arg);
    case 'dyn': return arg;
    case 'int': case 'uint': {
      if (typeof arg === 'number') return Math.trunc(arg);
      if (typeof arg === 'string' && /^-?\d+$/.test(arg.trim())) return parseInt(arg, 10);
      throw new CelError(`cannot convert ${JSON.stringify(arg)} to int`);
    }
    case 'double': {
      const n = Number(arg);
      if (Number.isNaN(n)) throw new CelError(`cannot convert ${JSON.stringify(arg)} to double`);
      return n;
    }
    case 'string': return arg && arg.celType ? arg.text : String(arg);
    case 'bool':
      if (typeof arg === 'boolean') return arg;
      if (arg === 'true' || arg === 'false') return arg === 'true';
      throw new CelError(`cannot convert ${JSON.stringify(arg)} to bool`);
    case 'type': return typeName(arg);
    case 'isIP': return parseIp(arg) !== null;
    case 'isCIDR': return parseCidr(arg) !== null;
    case 'ip': { const ip = parseIp(arg); if (!ip) throw new CelError(`IP Address '${arg}' parse error`); return ip; }
    case 'cidr': { const c = parseCidr(arg); if (!c) throw new CelError(`network address parse error during conversion from string: ${arg}`); return c; }
    case 'matches': return new RegExp(args[1], 'u').test(arg);
    default: throw new CelError(`undeclared reference to '${node.name}'`);
  }
}

function evaluateMacro(node, env, list) {
  const [variable, body, transform] = node.args;
  if (!variable || variable.type !== 'ident') throw new CelError(`${node.name}() needs a variable name`);
  const items = Array.isArray(list) ? list : Object.keys(list);
  const results = items.map((item) => {
    const scoped = { ...env, [variable.name]: item };
    return { item, value: evaluate(body, scoped), scoped };
  });
  switch (node.name) {
    case 'all': return results.every((r) => r.value === true);
    case 'exists': return results.some((r) => r.value === true);
    case 'exists_one': return results.filter((r) => r.value === true).length === 1;
    case 'filter': return results.filter((r) => r.value === true).map((r) => r.item);
    case 'map': return transform
      ? results.filter((r) => r.value === true).map((r) => evaluate(transform, r.scoped))
      : results.map((r) => r.value);
    default: throw new CelError(`unknown macro ${node.name}`);
  }
}

function evaluateMethod(node, env) {
  const target = evaluate(node.target, env);
  if (['all', 'exists', 'exists_one', 'map', 'filter'].includes(node.name)) return evaluateMacro(node, env, target);
  const args = node.args.map((a) => evaluate(a, env));
  if (target && target.celType === 'ip') {
    if (node.name === 'family') return target.family;
    if (node.name === 'isUnspecified') return target.bytes.every((b) => b === 0);
    if (node.name === 'isLoopback') return target.family === 4 ? target.bytes[0] === 127 : target.text === '::1';
    if (node.name === 'isCanonical') return true;
  }
  if (target && target.celType === 'cidr') {
    if (node.name === 'containsIP') return cidrContains(target, typeof args[0] === 'string' ? parseIp(args[0]) : args[0]);
    if (node.name === 'containsCIDR') {
      const other = typeof args[0] === 'string' ? parseCidr(args[0]) : args[0];
      return other.prefix >= target.prefix && cidrContains(target, other.ip);
    }
    if (node.name === 'prefixLength') return target.prefix;
    if (node.name === 'ip') return target.ip;
  }
  if (node.name === 'size') return sizeOf(target);
  if (typeof target === 'string') {
    switch (node.name) {
      case 'startsWith': return target.startsWith(args[0]);
      case 'endsWith': return target.endsWith(args[0]);
      case 'contains': return target.includes(args[0]);
      case 'matches': return new RegExp(args[0], 'u').test(target);
      case 'split': return args.length > 1 && args[1] >= 0 ? splitLimit(target, args[0], args[1]) : target.split(args[0]);
      case 'lowerAscii': return target.toLowerCase();
      case 'upperAscii': return target.toUpperCase();
      case 'trim': return target.trim();
      case 'indexOf': return target.indexOf(args[0]);
      case 'lastIndexOf': return target.lastIndexOf(args[0]);
      case 'replace': return target.split(args[0]).join(args[1]);
      case 'substring': return target.substring(args[0], args.length > 1 ? args[1] : undefined);
      default: break;
    }
  }
  if (Array.isArray(target) && node.name === 'join') return target.join(args.length ? args[0] : '');
  throw new CelError(`no such overload: ${typeName(target)}.${node.name}()`);
}

function splitLimit(text, separator, limit) {
  if (limit === 0) return [];
  const parts = text.split(separator);
  if (parts.length <= limit) return parts;
  return [...parts.slice(0, limit - 1), parts.slice(limit - 1).join(separator)];
}

module.exports = { compile, evaluate, CelError, parseIp, parseCidr };
