// The HTTP layer of the lab API server: authentication, routing of kube-apiserver's URL layout to
// the registry and the store, the verbs (get, list, watch, create, update, patch, delete,
// deletecollection), the status subresource, finalizers, CRD lifecycle, discovery and OpenAPI.
'use strict';

const crypto = require('crypto');
// yaml is loaded on first use: most requests are JSON and startup should stay fast.
let YAML = null;
function yaml() {
  if (!YAML) YAML = require('yaml');
  return YAML;
}
const errors = require('./errors');
const { ApiError } = errors;
const { Registry, groupResource, kCrdGroupResource } = require('./registry');
const { Store } = require('./store');
const schemaLib = require('./schema');
const selectors = require('./selectors');
const patchLib = require('./patch');
const table = require('./table');
const { decodeKubernetesProtobuf } = require('./protobuf');
const controllers = require('./controllers');

const kMaxBody = 3 * 1024 * 1024;
const kDefaultWatchTimeoutSeconds = 1800;
const kBookmarkIntervalMs = 1000;
const kDefaultNamespaces = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];
// Kinds whose DELETE answers with a Status rather than the object, as in kube-apiserver.
const kDeleteReturnsStatus = new Set(['/configmaps', '/events', 'coordination.k8s.io/leases', '/nodes', 'discovery.k8s.io/endpointslices']);
const kGenerateNameAlphabet = 'bcdfghjklmnpqrstvwxz2456789';

function now() {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function stableEqual(a, b) {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isObject(value)) return value;
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys(value[k])]));
}

function parseAccept(header) {
  return String(header || '*/*').split(',').map((part) => {
    const [type, ...params] = part.split(';').map((s) => s.trim());
    const map = {};
    for (const p of params) {
      const [k, v] = p.split('=');
      if (k && v !== undefined) map[k.trim()] = v.trim();
    }
    return { type: type.toLowerCase(), params: map };
  });
}

// negotiate picks the response form kube-apiserver would: a Table or PartialObjectMetadata when
// asked for first, else plain JSON; protobuf-only clients get 406.
function negotiate(header) {
  for (const { type, params } of parseAccept(header)) {
    if (type === 'application/json' && params.as === 'Table' && params.g === 'meta.k8s.io') return { form: 'table', version: params.v || 'v1' };
    if (type === 'application/json' && (params.as === 'PartialObjectMetadata' || params.as === 'PartialObjectMetadataList') && params.g === 'meta.k8s.io') {
      return { form: 'metadata', version: params.v || 'v1' };
    }
    if (params.as) continue;
    if (type === 'application/json' || type === 'application/*' || type === '*/*' || type === 'application/yaml') return { form: 'json' };
  }
  throw new ApiError(406, `only the following media types are accepted: application/json, application/yaml`, { reason: 'NotAcceptable' });
}

class ApiServer {
  constructor({ token, dataDir, watchCacheSize, log, address }) {
    this.token = token;
    this.log = log || ((line) => process.stderr.write(`${line}\n`));
    this.address = address || '127.0.0.1:6443';
    this.registry = new Registry();
    this.store = new Store({ dataDir, historySize: watchCacheSize || 1000 });
    this.openWatches = new Map(); // gr -> Set(close fn)
    for (const crd of this.store.list(kCrdGroupResource).items) this.registry.registerCrd(crd);
    for (const name of kDefaultNamespaces) {
      if (!this.store.get('/namespaces', '', name)) {
        this.createObject(this.lookupOrThrow('', 'v1', 'namespaces'), { metadata: { name } }, { namespace: '', query: new URLSearchParams() });
      }
    }
  }

  // startControllers runs what kube-controller-manager and kube-apiserver's reconcilers would:
  // the EndpointSlice controller, default/kubernetes pointing at advertiseIp:port, and the
  // ServiceCIDR "kubernetes".
  startControllers({ advertiseIp, port }) {
    controllers.ensureDefaultServiceCidr(this);
    if (advertiseIp && /^\d+\.\d+\.\d+\.\d+$/.test(advertiseIp)) controllers.ensureKubernetesService(this, advertiseIp, port);
    this.endpointSlices = new controllers.EndpointSliceController(this);
    this.endpointSlices.start();
  }

  lookupOrThrow(group, version, resource) {
    const found = this.registry.lookup(group, version, resource);
    if (!found) throw new ApiError(404, 'the server could not find the requested resource', { details: {} });
    return { ...found, gr: groupResource(found.resource.group, found.resource.resource) };
  }

  // ---- HTTP entry ----

  handle(req, res) {
    const started = Date.now();
    const url = new URL(req.url, 'https://localhost');
    // Watches log when they start (they may last for minutes), everything else when it finishes.
    res.on('finish', () => {
      if (!res.isWatch) this.log(`${req.method} ${req.url} ${res.statusCode} ${Date.now() - started}ms`);
    });
    this.dispatch(req, res, url).catch((err) => this.fail(res, err));
  }

  fail(res, err) {
    const apiError = err instanceof ApiError ? err : new ApiError(500, `Internal error occurred: ${err && err.message}`);
    if (!(err instanceof ApiError)) this.log(`internal error: ${err && err.stack}`);
    if (res.headersSent) {
      res.end();
      return;
    }
    this.sendJson(res, apiError.code, apiError.toStatus());
  }

  sendJson(res, code, body, headers = {}) {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  async readBodyBuffer(req) {
    const chunks = [];
    let size = 0;
    for await (const chunk of req) {
      size += chunk.length;
      if (size > kMaxBody) throw new ApiError(413, 'Request entity too large: limit is 3145728', { reason: 'RequestEntityTooLarge' });
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  }

  async dispatch(req, res, url) {
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (['/healthz', '/readyz', '/livez'].includes(path) || /^\/(healthz|readyz|livez)\//.test(path)) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('ok');
      return;
    }
    const auth = req.headers.authorization || '';
    if (auth !== `Bearer ${this.token}`) throw new ApiError(401, 'Unauthorized');
    if (path === '/version') {
      this.sendJson(res, 200, {
        major: '1', minor: '32', gitVersion: 'v1.32.0-sluice-lab', gitCommit: '0000000000000000000000000000000000000000',
        gitTreeState: 'clean', buildDate: '2026-01-01T00:00:00Z', goVersion: `node${process.versions.node}`,
        compiler: 'node', platform: `${process.platform}/${process.arch}`,
      });
      return;
    }
    if (path.startsWith('/openapi/')) {
      this.serveOpenApi(req, res, path);
      return;
    }
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] === 'api' || parts[0] === 'apis') {
      const isCore = parts[0] === 'api';
      const group = isCore ? '' : parts[1];
      const version = isCore ? parts[1] : parts[2];
      const rest = parts.slice(isCore ? 2 : 3);
      if (rest.length === 0) {
        this.serveDiscovery(req, res, parts, group, version);
        return;
      }
      await this.serveResource(req, res, url, group, version, rest);
      return;
    }
    throw new ApiError(404, 'the server could not find the requested resource', { details: {} });
  }

  serveDiscovery(req, res, parts, group, version) {
    if (req.method !== 'GET') throw new ApiError(405, `the server does not allow this method on the requested resource`);
    let body = null;
    if (parts[0] === 'api' && parts.length === 1) {
      const [host, port] = this.address.split(/:(?=\d+$)/);
      body = { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `${host}:${port}` }] };
    } else if (parts[0] === 'apis' && parts.length === 1) {
      body = this.registry.apiGroupList();
    } else if (parts[0] === 'apis' && parts.length === 2) {
      body = this.registry.apiGroup(group);
    } else {
      body = this.registry.apiResourceList(group, version);
    }
    if (!body) throw new ApiError(404, 'the server could not find the requested resource', { details: {} });
    this.sendJson(res, 200, body);
  }

  serveOpenApi(req, res, path) {
    if (path === '/openapi/v2') {
      const accept = String(req.headers.accept || '');
      if (accept && !/json|\*\/\*/.test(accept)) {
        throw new ApiError(406, 'only application/json is served for /openapi/v2 by the lab API server', { reason: 'NotAcceptable' });
      }
      this.sendJson(res, 200, this.registry.openApiV2());
      return;
    }
    if (path === '/openapi/v3') {
      this.sendJson(res, 200, this.registry.openApiV3Root());
      return;
    }
    const match = /^\/openapi\/v3\/(?:api\/([^/]+)|apis\/([^/]+)\/([^/]+))$/.exec(path);
    const document = match && (match[1] ? this.registry.openApiV3('', match[1]) : this.registry.openApiV3(match[2], match[3]));
    if (!document) throw new ApiError(404, 'the server could not find the requested resource', { details: {} });
    this.sendJson(res, 200, document);
  }

  // ---- resources ----

  async serveResource(req, res, url, group, version, rest) {
    let namespace = '';
    let parts = rest;
    if (parts[0] === 'namespaces' && parts.length > 2 && !['status', 'finalize'].includes(parts[2])) {
      namespace = parts[1];
      parts = parts.slice(2);
    }
    const [resourceName, name, subresource, ...extra] = parts;
    const info = this.lookupOrThrow(group, version, resourceName);
    const { resource } = info;
    if (extra.length > 0) throw new ApiError(404, 'the server could not find the requested resource', { details: {} });
    if (namespace && !resource.namespaced) throw new ApiError(404, 'the server could not find the requested resource', { details: {} });
    if (name && resource.namespaced && !namespace) throw new ApiError(404, 'the server could not find the requested resource', { details: {} });
    if (subresource && !(subresource === 'status' && info.version.statusSubresource)) {
      throw new ApiError(404, 'the server could not find the requested resource', { details: {} });
    }
    const query = url.searchParams;
    const ctx = { info, namespace, name, subresource, query, accept: req.headers.accept, res };
    const method = req.method;
    if (method === 'GET') {
      if (name) return this.respondObject(res, ctx, this.getObject(ctx));
      if (query.get('watch') === '1' || query.get('watch') === 'true') return this.watch(req, res, ctx);
      return this.list(res, ctx);
    }
    const rawBody = await this.readBodyBuffer(req);
    const body = rawBody.toString('utf8');
    if (method === 'POST' && !name) {
      const object = this.decodeBody(req, body, ctx, rawBody);
      const warnings = [];
      const created = this.createObject(info, object, { namespace, query, warnings });
      return this.respondObject(res, ctx, created, 201, warnings);
    }
    if (method === 'PUT' && name) {
      const warnings = [];
      const updated = this.updateObject(ctx, this.decodeBody(req, body, ctx, rawBody), warnings);
      return this.respondObject(res, ctx, updated, 200, warnings);
    }
    if (method === 'PATCH' && name) {
      const warnings = [];
      const { object, created } = this.patchObject(ctx, req.headers['content-type'], body, warnings);
      return this.respondObject(res, ctx, object, created ? 201 : 200, warnings);
    }
    if (method === 'DELETE' && name && !subresource) {
      const options = body.trim() ? this.parseJson(body) : {};
      return this.deleteObject(res, ctx, options);
    }
    if (method === 'DELETE' && !name) return this.deleteCollection(res, ctx);
    throw new ApiError(405, `the server does not allow this method on the requested resource`, { details: {} });
  }

  parseJson(text) {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw errors.badRequest(`the body of the request could not be decoded as JSON: ${err.message}`);
    }
  }

  decodeBody(req, body, ctx, rawBody) {
    const type = String(req.headers['content-type'] || 'application/json').split(';')[0].trim();
    let object;
    if (type === 'application/vnd.kubernetes.protobuf') {
      object = decodeKubernetesProtobuf(rawBody);
    } else if (type === 'application/json' || type === '') {
      object = this.parseJson(body);
    } else if (type === 'application/yaml') {
      try {
        object = yaml().parse(body);
      } catch (err) {
        throw errors.badRequest(`the body of the request could not be decoded as YAML: ${err.message}`);
      }
    } else {
      throw new ApiError(415, `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml`);
    }
    if (!isObject(object)) throw errors.badRequest('the body of the request must be a JSON object');
    this.checkTypeMeta(ctx.info, object);
    return object;
  }

  checkTypeMeta(info, object) {
    const { resource, version } = info;
    const expected = resource.group ? `${resource.group}/${version.name}` : version.name;
    if (object.apiVersion !== undefined && object.apiVersion !== expected) {
      throw errors.badRequest(`the API version in the data (${object.apiVersion}) does not match the expected API version (${expected})`);
    }
    if (object.kind !== undefined && object.kind !== resource.kind) {
      throw errors.badRequest(`${object.kind} in version "${version.name}" cannot be handled as a ${resource.kind}: the kind in the data (${object.kind}) does not match the expected kind (${resource.kind})`);
    }
    object.apiVersion = expected;
    object.kind = resource.kind;
    if (!isObject(object.metadata)) object.metadata = {};
  }

  // toVersion renders a stored object at the requested version; with conversion strategy None
  // only apiVersion changes.
  toVersion(info, object) {
    const copy = structuredClone(object);
    // As kube-apiserver does when reading from etcd, apply the storage version's defaults.
    if (info.resource.storageSchema) schemaLib.applyDefaults(info.resource.storageSchema, copy);
    copy.apiVersion = info.resource.group ? `${info.resource.group}/${info.version.name}` : info.version.name;
    copy.kind = info.resource.kind;
    return copy;
  }

  toStorage(info, object) {
    const { resource } = info;
    object.apiVersion = resource.group ? `${resource.group}/${resource.storageVersion}` : resource.storageVersion;
    object.kind = resource.kind;
    return object;
  }

  respondObject(res, ctx, object, code = 200, warnings = []) {
    const headers = {};
    if (warnings.length) headers.Warning = warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', ');
    const form = negotiate(ctx.accept);
    if (form.form === 'table' && object.kind !== 'Status') {
      this.sendJson(res, code, table.buildTable({
        columns: ctx.info.version.columns, objects: [object], resourceVersion: object.metadata.resourceVersion,
        includeObject: ctx.query.get('includeObject'), tableVersion: form.version,
      }), headers);
      return;
    }
    if (form.form === 'metadata' && object.kind !== 'Status') {
      this.sendJson(res, code, { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${form.version}`, metadata: object.metadata }, headers);
      return;
    }
    this.sendJson(res, code, object, headers);
  }

  getObject(ctx) {
    const stored = this.store.get(ctx.info.gr, ctx.namespace, ctx.name);
    if (!stored) throw errors.notFound(ctx.info.resource, ctx.name);
    return this.toVersion(ctx.info, stored);
  }

  filterFor(ctx) {
    const labels = selectors.parseLabelSelector(ctx.query.get('labelSelector'));
    const fields = selectors.parseFieldSelector(ctx.query.get('fieldSelector'));
    const allowed = [...(ctx.info.resource.fieldSelectors || ['metadata.name']), ...(ctx.info.version.selectableFields || [])];
    selectors.checkFieldSelector(fields, allowed, ctx.info.resource.resource);
    const namespace = ctx.namespace;
    return (object) => (!namespace || object.metadata.namespace === namespace)
      && selectors.matchesLabels(labels, object.metadata.labels)
      && selectors.matchesFields(fields, object);
  }

  // page applies limit/continue. Pages after the first report the first page's resourceVersion,
  // as kube-apiserver does; a continue token older than the watch history gets 410.
  page(ctx, items, currentRv) {
    const limit = Number(ctx.query.get('limit')) || 0;
    const token = ctx.query.get('continue');
    let listRv = currentRv;
    let start = '';
    if (token) {
      let decoded;
      try {
        decoded = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
      } catch {
        decoded = null;
      }
      if (!decoded || typeof decoded.rv !== 'number' || typeof decoded.start !== 'string') {
        throw errors.badRequest('continue key is not valid: the continue token is malformed');
      }
      if (decoded.rv < this.store.history(ctx.info.gr).start) {
        throw new ApiError(410, 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.', { reason: 'Expired' });
      }
      listRv = decoded.rv;
      start = decoded.start;
    }
    const key = (o) => `${o.metadata.namespace || ''}/${o.metadata.name}`;
    let rest = start ? items.filter((o) => key(o) > start) : items;
    const metadata = { resourceVersion: String(listRv) };
    if (limit > 0 && rest.length > limit) {
      const remaining = rest.length - limit;
      rest = rest.slice(0, limit);
      metadata.continue = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: listRv, start: key(rest[rest.length - 1]) })).toString('base64');
      if (!ctx.query.get('labelSelector') && !ctx.query.get('fieldSelector')) metadata.remainingItemCount = remaining;
    }
    return { items: rest, metadata };
  }

  list(res, ctx) {
    const filter = this.filterFor(ctx);
    const listed = this.store.list(ctx.info.gr, filter);
    const { items, metadata } = this.page(ctx, listed.items, listed.resourceVersion);
    const objects = items.map((item) => this.toVersion(ctx.info, item));
    const form = negotiate(ctx.accept);
    if (form.form === 'table') {
      const body = table.buildTable({
        columns: ctx.info.version.columns, objects, resourceVersion: metadata.resourceVersion, includeObject: ctx.query.get('includeObject'), tableVersion: form.version,
      });
      body.metadata = metadata;
      this.sendJson(res, 200, body);
      return;
    }
    const { resource } = ctx.info;
    const apiVersion = resource.group ? `${resource.group}/${ctx.info.version.name}` : ctx.info.version.name;
    if (form.form === 'metadata') {
      this.sendJson(res, 200, {
        kind: 'PartialObjectMetadataList', apiVersion: `meta.k8s.io/${form.version}`, metadata,
        items: objects.map((o) => ({ kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${form.version}`, metadata: o.metadata })),
      });
      return;
    }
    // Typed lists of built-in kinds carry no apiVersion/kind per item; unstructured CR lists do.
    const outItems = resource.builtin ? objects.map(({ apiVersion: _a, kind: _k, ...other }) => other) : objects;
    this.sendJson(res, 200, { apiVersion, kind: resource.listKind, metadata, items: outItems });
  }

  watch(req, res, ctx) {
    const { info, query } = ctx;
    const filter = this.filterFor(ctx);
    const form = negotiate(ctx.accept);
    const rvParam = query.get('resourceVersion') || '';
    const sendInitialEvents = query.get('sendInitialEvents') === 'true';
    let fromRv = null;
    if (rvParam !== '' && rvParam !== '0' && !sendInitialEvents) {
      if (!/^\d+$/.test(rvParam)) throw errors.badRequest(`resourceVersion: Invalid value: "${rvParam}": must be a non-negative integer`);
      fromRv = Number(rvParam);
    }
    const allowBookmarks = query.get('allowWatchBookmarks') === 'true' || query.get('allowWatchBookmarks') === '1';
    const timeoutSeconds = Number(query.get('timeoutSeconds')) || kDefaultWatchTimeoutSeconds;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    // Send the headers now, as kube-apiserver flushes them: clients block until they see them.
    res.flushHeaders();
    res.isWatch = true;
    this.log(`${req.method} ${req.url} 200 watching`);
    if (res.socket) res.socket.setNoDelay(true);
    const apiVersion = info.resource.group ? `${info.resource.group}/${info.version.name}` : info.version.name;
    const write = (type, object) => {
      if (res.writableEnded || res.destroyed) return;
      res.write(`${JSON.stringify({ type, object })}\n`);
    };
    const send = (type, stored) => {
      const object = this.toVersion(info, stored);
      if (form.form === 'table') {
        write(type, table.buildTable({ columns: info.version.columns, objects: [object], resourceVersion: object.metadata.resourceVersion, includeObject: query.get('includeObject'), tableVersion: form.version }));
      } else if (form.form === 'metadata') {
        write(type, { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${form.version}`, metadata: object.metadata });
      } else {
        write(type, object);
      }
    };
    const bookmark = (annotations) => {
      const metadata = { resourceVersion: String(this.store.resourceVersion) };
      if (annotations) metadata.annotations = annotations;
      write('BOOKMARK', { kind: info.resource.kind, apiVersion, metadata });
    };
    let cancel = null;
    try {
      cancel = this.store.watch(info.gr, { fromRv, filter, send });
    } catch (err) {
      if (err instanceof ApiError && err.code === 410) {
        write('ERROR', err.toStatus());
        res.end();
        return;
      }
      throw err;
    }
    if (sendInitialEvents && allowBookmarks) bookmark({ 'k8s.io/initial-events-end': 'true' });
    const timers = [setTimeout(() => close(), timeoutSeconds * 1000)];
    if (allowBookmarks) timers.push(setInterval(() => bookmark(), kBookmarkIntervalMs));
    if (!this.openWatches.has(info.gr)) this.openWatches.set(info.gr, new Set());
    const close = () => {
      timers.forEach((t) => clearTimeout(t));
      if (cancel) cancel();
      cancel = null;
      this.openWatches.get(info.gr).delete(close);
      if (!res.writableEnded) res.end();
    };
    this.openWatches.get(info.gr).add(close);
    res.on('close', close);
  }

  closeWatches(gr) {
    for (const close of [...(this.openWatches.get(gr) || [])]) close();
  }

  closeAllWatches() {
    for (const gr of this.openWatches.keys()) this.closeWatches(gr);
  }

  // ---- writes ----

  fieldValidation(query) {
    const value = query.get('fieldValidation') || 'Warn';
    if (!['Strict', 'Warn', 'Ignore'].includes(value)) {
      throw errors.badRequest(`fieldValidation must be one of "Ignore", "Warn", or "Strict", got "${value}"`);
    }
    return value;
  }

  // pruneUnknown drops undeclared fields and reports them as fieldValidation asks.
  pruneUnknown(info, object, query, warnings) {
    const unknown = [];
    schemaLib.prune(info.version.schema, object, '', unknown, true);
    if (unknown.length === 0) return;
    const mode = this.fieldValidation(query);
    const messages = unknown.map((p) => `unknown field "${p}"`);
    if (mode === 'Strict') {
      const { kind } = info.resource;
      throw errors.badRequest(`${kind} in version "${info.version.name}" cannot be handled as a ${kind}: strict decoding error: ${messages.join(', ')}`);
    }
    if (mode === 'Warn' && warnings) warnings.push(...messages);
  }

  validate(info, object, oldObject) {
    const { resource } = info;
    const causes = schemaLib.validateObjectMeta(object.metadata, { nameIsDnsLabel: resource.nameIsDnsLabel });
    if (!resource.builtin) {
      schemaLib.validateNode(info.version.schema, object, '', causes, oldObject);
    }
    if (resource.resource === 'customresourcedefinitions') causes.push(...Registry.checkCrd(object));
    if (resource.builtin && resource.validateKind) causes.push(...resource.validateKind(object, oldObject));
    if (causes.length > 0) throw errors.invalid(resource.kind, resource.group, object.metadata.name || object.metadata.generateName || '', causes);
  }

  // allocate runs a built-in kind's allocator (Service ClusterIPs and NodePorts) against the stored
  // objects; requested values that are taken or out of range fail as kube's allocators do.
  allocate(info, object) {
    const { resource } = info;
    if (!resource.builtin || !resource.allocate) return;
    const causes = resource.allocate(object, this.store.list(info.gr || groupResource(resource.group, resource.resource)).items);
    if (causes.length > 0) throw errors.invalid(resource.kind, resource.group, object.metadata.name || '', causes);
  }

  tracksGeneration(info) {
    return !info.resource.builtin || info.resource.resource === 'customresourcedefinitions';
  }

  createObject(info, object, { namespace, query, warnings, keepManagedFields }) {
    const { resource } = info;
    if (!info.gr) info = { ...info, gr: groupResource(resource.group, resource.resource) };
    this.checkTypeMeta(info, object);
    const metadata = object.metadata;
    if (resource.namespaced) {
      if (metadata.namespace && namespace && metadata.namespace !== namespace) {
        throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      metadata.namespace = namespace || metadata.namespace;
      if (!metadata.namespace) throw errors.badRequest('the namespace of the object must be set');
    } else {
      delete metadata.namespace;
    }
    this.pruneUnknown(info, object, query, warnings);
    if (!metadata.name && metadata.generateName) {
      let suffix = '';
      for (let i = 0; i < 5; i++) suffix += kGenerateNameAlphabet[crypto.randomInt(kGenerateNameAlphabet.length)];
      metadata.name = `${metadata.generateName}${suffix}`;
    }
    for (const field of ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'selfLink']) delete metadata[field];
    if (!keepManagedFields) delete metadata.managedFields;
    if (info.version.statusSubresource && !resource.statusOnCreate) delete object.status;
    if (resource.prepareForCreate) resource.prepareForCreate(object);
    if (resource.builtin && resource.defaults) resource.defaults(object);
    if (!resource.builtin) schemaLib.applyDefaults(info.version.schema, object);
    const isCrd = info.gr === kCrdGroupResource;
    if (isCrd) {
      this.validate(info, object);
      Registry.fillCrdDefaults(object);
      object.status = Registry.establishedStatus(object, null);
    }
    this.validate(info, object);
    this.allocate(info, object);
    if (resource.namespaced && !this.store.get('/namespaces', '', metadata.namespace)) {
      throw new ApiError(404, `namespaces "${metadata.namespace}" not found`, { details: { name: metadata.namespace, kind: 'namespaces' } });
    }
    if (this.store.get(info.gr, metadata.namespace, metadata.name)) throw errors.alreadyExists(resource, metadata.name);
    metadata.uid = crypto.randomUUID();
    metadata.creationTimestamp = now();
    if (this.tracksGeneration(info)) metadata.generation = 1;
    if (query.get('dryRun') === 'All') return this.toVersion(info, object);
    if (isCrd) this.checkCrdNamesFree(object);
    const stored = this.store.write(info.gr, this.toStorage(info, object));
    if (isCrd) this.registry.registerCrd(stored);
    return this.toVersion(info, stored);
  }

  checkCrdNamesFree(crd) {
    const existing = this.registry.resources.get(groupResource(crd.spec.group, crd.spec.names.plural));
    if (existing && existing.builtin) {
      throw errors.invalid('CustomResourceDefinition', 'apiextensions.k8s.io', crd.metadata.name,
        [{ reason: 'FieldValueInvalid', field: 'spec.names.plural', message: `Invalid value: ${JSON.stringify(crd.spec.names.plural)}: is already served by a built-in resource` }]);
    }
  }

  updateObject(ctx, object, warnings) {
    const { info } = ctx;
    const current = this.store.get(info.gr, ctx.namespace, ctx.name);
    if (!current) throw errors.notFound(info.resource, ctx.name);
    if (object.metadata.name !== undefined && object.metadata.name !== ctx.name) {
      throw errors.badRequest(`the name of the object (${object.metadata.name}) does not match the name on the URL (${ctx.name})`);
    }
    if (object.metadata.namespace && ctx.namespace && object.metadata.namespace !== ctx.namespace) {
      throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const expectedRv = object.metadata.resourceVersion;
    if (expectedRv && expectedRv !== current.metadata.resourceVersion) throw errors.staleConflict(info.resource, ctx.name);
    return this.finishUpdate(ctx, current, object, { warnings });
  }

  // finishUpdate turns a candidate (at the request version) into the next stored state of current,
  // applying the status subresource rules, generation, validation and finalizer semantics.
  finishUpdate(ctx, current, candidate, { warnings, keepManagedFields }) {
    const { info } = ctx;
    const { resource } = info;
    this.checkTypeMeta(info, candidate);
    this.pruneUnknown(info, candidate, ctx.query, warnings);
    const old = this.toVersion(info, current);
    let next;
    if (ctx.subresource === 'status') {
      next = structuredClone(old);
      if (candidate.status === undefined) delete next.status; else next.status = candidate.status;
      if (keepManagedFields) next.metadata.managedFields = candidate.metadata.managedFields;
    } else {
      next = candidate;
      if (info.version.statusSubresource) {
        if (old.status === undefined) delete next.status; else next.status = structuredClone(old.status);
      }
      if (next.metadata.managedFields === undefined && old.metadata.managedFields) next.metadata.managedFields = old.metadata.managedFields;
    }
    const metadata = next.metadata;
    for (const field of ['name', 'namespace', 'uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation']) {
      if (old.metadata[field] === undefined) delete metadata[field]; else metadata[field] = old.metadata[field];
    }
    if (!resource.builtin && ctx.subresource !== 'status') schemaLib.applyDefaults(info.version.schema, next);
    if (resource.builtin && ctx.subresource !== 'status') {
      if (resource.keepOnUpdate) resource.keepOnUpdate(next, old);
      if (resource.defaults) resource.defaults(next);
    }
    const isCrd = info.gr === kCrdGroupResource;
    if (isCrd && ctx.subresource !== 'status') {
      this.validate(info, next, old);
      Registry.fillCrdDefaults(next);
      next.status = Registry.establishedStatus(next, old.status);
    }
    this.validate(info, next, old);
    if (ctx.subresource !== 'status') this.allocate(info, next);
    if (old.metadata.deletionTimestamp) {
      const added = (metadata.finalizers || []).filter((f) => !(old.metadata.finalizers || []).includes(f));
      if (added.length > 0) {
        throw errors.invalid(resource.kind, resource.group, ctx.name, [{ reason: 'FieldValueForbidden', field: 'metadata.finalizers', message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(', ')}}` }]);
      }
    }
    if (this.tracksGeneration(info)) {
      const strip = (o) => { const { metadata: _m, status: _s, ...rest } = o; return rest; };
      const specChanged = info.version.statusSubresource ? !stableEqual(strip(next), strip(old))
        : !stableEqual({ ...next, metadata: {} }, { ...old, metadata: {} });
      if (specChanged) metadata.generation = (old.metadata.generation || 0) + 1;
    }
    metadata.resourceVersion = old.metadata.resourceVersion;
    if (stableEqual(next, old)) return old;
    if (ctx.query.get('dryRun') === 'All') return next;
    if (metadata.deletionTimestamp && (!metadata.finalizers || metadata.finalizers.length === 0)) {
      const deleted = this.reallyDelete(info, this.toStorage(info, structuredClone(next)));
      return this.toVersion(info, deleted);
    }
    const stored = this.store.write(info.gr, this.toStorage(info, next));
    if (isCrd) this.reregisterCrd(old, stored);
    return this.toVersion(info, stored);
  }

  reregisterCrd(old, crd) {
    if (old.spec.group !== crd.spec.group || old.spec.names.plural !== crd.spec.names.plural) {
      const gr = this.registry.unregisterCrd(old);
      if (gr) { this.store.dropResource(gr); this.closeWatches(gr); }
    }
    this.registry.registerCrd(crd);
  }

  patchType(contentType, info) {
    const type = String(contentType || '').split(';')[0].trim();
    const types = ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'];
    if (info.resource.builtin) types.push('application/strategic-merge-patch+json');
    if (!types.includes(type)) {
      throw new ApiError(415, `the body of the request was in an unknown format - accepted media types include: ${types.join(', ')}`);
    }
    return type;
  }

  patchObject(ctx, contentType, body, warnings) {
    const { info } = ctx;
    const type = this.patchType(contentType, info);
    const current = this.store.get(info.gr, ctx.namespace, ctx.name);
    if (type === 'application/apply-patch+yaml') return this.applyObject(ctx, current, body, warnings);
    if (!current) throw errors.notFound(info.resource, ctx.name);
    const patch = this.parseJson(body);
    const old = this.toVersion(info, current);
    let patched;
    let expectedRv;
    if (type === 'application/json-patch+json') {
      patched = patchLib.jsonPatch(old, patch);
      if (isObject(patched) && isObject(patched.metadata)) expectedRv = patched.metadata.resourceVersion;
    } else {
      if (!isObject(patch)) throw errors.badRequest('the patch must be a JSON object');
      expectedRv = isObject(patch.metadata) ? patch.metadata.resourceVersion : undefined;
      patched = type === 'application/merge-patch+json' ? patchLib.mergePatch(old, patch) : patchLib.strategicMerge(old, patch);
    }
    if (!isObject(patched)) throw errors.badRequest('the patched object is not a JSON object');
    if (expectedRv && expectedRv !== current.metadata.resourceVersion) throw errors.staleConflict(info.resource, ctx.name);
    if (!isObject(patched.metadata)) patched.metadata = {};
    if (patched.metadata.name !== ctx.name) throw errors.badRequest(`the name of the object (${patched.metadata.name}) does not match the name on the URL (${ctx.name})`);
    return { object: this.finishUpdate(ctx, current, patched, { warnings }), created: false };
  }

  applyObject(ctx, current, body, warnings) {
    const { info, query } = ctx;
    const manager = query.get('fieldManager');
    if (!manager) throw errors.badRequest('PATCH, application/apply-patch+yaml requires fieldManager to be set');
    let applied;
    try {
      applied = yaml().parse(body);
    } catch (err) {
      throw errors.badRequest(`error decoding YAML: ${err.message}`);
    }
    if (!isObject(applied)) throw errors.badRequest('the applied configuration must be an object');
    if (!applied.apiVersion || !applied.kind) throw errors.badRequest('apiVersion and kind must be set in an applied configuration');
    this.checkTypeMeta(info, applied);
    if (applied.metadata.name !== undefined && applied.metadata.name !== ctx.name) {
      throw errors.badRequest(`the name of the object (${applied.metadata.name}) does not match the name on the URL (${ctx.name})`);
    }
    this.pruneUnknown(info, applied, query, warnings);
    const force = query.get('force') === 'true';
    const scope = ctx.subresource === 'status' ? 'status' : 'main';
    const apiVersion = applied.apiVersion;
    if (!current && scope === 'status') throw errors.notFound(info.resource, ctx.name);
    const old = current ? this.toVersion(info, current) : null;
    const result = patchLib.serverSideApply({ current: old, applied, manager, force, scope, apiVersion });
    if (result.conflicts) {
      const describe = (c) => `conflict with "${c.manager}" using ${c.apiVersion}: .${c.path.join('.')}`;
      const message = result.conflicts.length === 1
        ? `Apply failed with 1 conflict: ${describe(result.conflicts[0])}`
        : `Apply failed with ${result.conflicts.length} conflicts: ${result.conflicts.map(describe).join('\n')}`;
      throw new ApiError(409, message, {
        reason: 'Conflict',
        details: { causes: result.conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: describe(c), field: `.${c.path.join('.')}` })) },
      });
    }
    const object = result.object;
    object.apiVersion = applied.apiVersion;
    object.kind = applied.kind;
    object.metadata.name = ctx.name;
    if (info.resource.namespaced) object.metadata.namespace = ctx.namespace;
    if (!current) {
      return { object: this.createObject(info, object, { namespace: ctx.namespace, query, warnings, keepManagedFields: true }), created: true };
    }
    return { object: this.finishUpdate(ctx, current, object, { warnings, keepManagedFields: true }), created: false };
  }

  deleteObject(res, ctx, options) {
    const { info, query } = ctx;
    const current = this.store.get(info.gr, ctx.namespace, ctx.name);
    if (!current) throw errors.notFound(info.resource, ctx.name);
    const preconditions = (options && options.preconditions) || {};
    if (preconditions.uid && preconditions.uid !== current.metadata.uid) {
      throw errors.conflict(info.resource, ctx.name, `Precondition failed: UID in precondition: ${preconditions.uid}, UID in object meta: ${current.metadata.uid}`);
    }
    if (preconditions.resourceVersion && preconditions.resourceVersion !== current.metadata.resourceVersion) {
      throw errors.conflict(info.resource, ctx.name, `Precondition failed: ResourceVersion in precondition: ${preconditions.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`);
    }
    const dryRun = query.get('dryRun') === 'All' || (Array.isArray(options.dryRun) && options.dryRun.includes('All'));
    const result = this.deleteStored(info, current, { dryRun });
    const finished = !result.metadata.deletionTimestamp || !(result.metadata.finalizers || []).length;
    if (finished && kDeleteReturnsStatus.has(info.gr)) {
      this.sendJson(res, 200, {
        kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success',
        details: { name: ctx.name, group: info.resource.group, kind: info.resource.resource, uid: current.metadata.uid },
      });
      return;
    }
    // kube-apiserver answers 200 even while finalizers hold the object (202 only for the deprecated
    // orphanDependents=false).
    this.respondObject(res, ctx, this.toVersion(info, result), 200);
  }

  // deleteStored deletes now, or marks the object deleted while finalizers remain.
  deleteStored(info, current, { dryRun }) {
    if ((current.metadata.finalizers || []).length > 0) {
      if (current.metadata.deletionTimestamp) return current;
      const marked = structuredClone(current);
      marked.metadata.deletionTimestamp = now();
      marked.metadata.deletionGracePeriodSeconds = 0;
      if (dryRun) return marked;
      return this.store.write(info.gr, marked);
    }
    if (dryRun) return current;
    return this.reallyDelete(info, current);
  }

  reallyDelete(info, object) {
    const gr = info.gr || groupResource(info.resource.group, info.resource.resource);
    if (gr === kCrdGroupResource) {
      const served = this.registry.unregisterCrd(object);
      if (served) {
        this.store.dropResource(served);
        this.closeWatches(served);
      }
    }
    if (gr === '/namespaces') {
      // No namespace controller: the namespace's objects go with it, finalizers notwithstanding.
      for (const resource of this.registry.resources.values()) {
        if (!resource.namespaced) continue;
        const rgr = groupResource(resource.group, resource.resource);
        for (const item of this.store.list(rgr, (o) => o.metadata.namespace === object.metadata.name).items) {
          this.store.remove(rgr, item.metadata.namespace, item.metadata.name);
        }
      }
    }
    const deleted = this.store.remove(gr, object.metadata.namespace, object.metadata.name);
    return deleted || object;
  }

  deleteCollection(res, ctx) {
    const { info, query } = ctx;
    const filter = this.filterFor(ctx);
    const dryRun = query.get('dryRun') === 'All';
    const items = this.store.list(info.gr, filter).items.map((item) => this.toVersion(info, this.deleteStored(info, item, { dryRun })));
    const { resource } = info;
    const apiVersion = resource.group ? `${resource.group}/${info.version.name}` : info.version.name;
    this.sendJson(res, 200, { apiVersion, kind: resource.listKind, metadata: { resourceVersion: String(this.store.resourceVersion) }, items });
  }
}

module.exports = { ApiServer };
