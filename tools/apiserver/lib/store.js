// Object storage with one global, ever-increasing resourceVersion (as etcd's revision), a bounded
// per-resource event history for watches (410 Gone beyond it), watch fan-out, and optional
// persistence to a JSON file so a restarted server keeps its objects and never reuses an RV.
'use strict';

const fs = require('fs');
const path = require('path');
const { ApiError } = require('./errors');

function objectKey(namespace, name) {
  return `${namespace || ''}/${name}`;
}

class Store {
  constructor({ dataDir, historySize }) {
    this.file = dataDir ? path.join(dataDir, 'objects.json') : null;
    this.historySize = historySize;
    this.resourceVersion = 0;
    this.collections = new Map(); // gr -> Map(key -> object)
    this.histories = new Map(); // gr -> { start, events: [{type, rv, object, previous}] }
    this.watchers = new Map(); // gr -> Set(watcher)
    if (this.file && fs.existsSync(this.file)) this.load();
    // Every write since startRv is in some history, so a resource's history starts there until
    // it is trimmed (not when the resource is first written or watched).
    this.startRv = this.resourceVersion;
  }

  load() {
    const saved = JSON.parse(fs.readFileSync(this.file, 'utf8'));
    this.resourceVersion = saved.resourceVersion;
    for (const [gr, objects] of Object.entries(saved.resources || {})) {
      const collection = this.collection(gr);
      for (const object of objects) collection.set(objectKey(object.metadata.namespace, object.metadata.name), object);
    }
  }

  persist() {
    if (!this.file) return;
    const resources = {};
    for (const [gr, collection] of this.collections) {
      if (collection.size > 0) resources[gr] = [...collection.values()];
    }
    const temp = `${this.file}.tmp`;
    fs.writeFileSync(temp, JSON.stringify({ resourceVersion: this.resourceVersion, resources }));
    fs.renameSync(temp, this.file);
  }

  collection(gr) {
    if (!this.collections.has(gr)) this.collections.set(gr, new Map());
    return this.collections.get(gr);
  }

  history(gr) {
    if (!this.histories.has(gr)) this.histories.set(gr, { start: this.startRv, events: [] });
    return this.histories.get(gr);
  }

  get(gr, namespace, name) {
    const object = this.collection(gr).get(objectKey(namespace, name));
    return object ? structuredClone(object) : null;
  }

  // list returns deep copies of the objects accepted by filter, sorted by namespace and name as etcd
  // keys are, and the resourceVersion the list is consistent with.
  list(gr, filter) {
    const keys = [...this.collection(gr).keys()].sort();
    const items = [];
    for (const key of keys) {
      const object = this.collection(gr).get(key);
      if (!filter || filter(object)) items.push(structuredClone(object));
    }
    return { items, resourceVersion: this.resourceVersion };
  }

  // write stores object (which must not be shared with the caller afterwards) under a new RV and
  // returns a copy of what was stored.
  write(gr, object) {
    const collection = this.collection(gr);
    const key = objectKey(object.metadata.namespace, object.metadata.name);
    const previous = collection.get(key) || null;
    this.history(gr);
    this.resourceVersion += 1;
    object.metadata.resourceVersion = String(this.resourceVersion);
    collection.set(key, object);
    this.persist();
    this.record(gr, { type: previous ? 'MODIFIED' : 'ADDED', rv: this.resourceVersion, object, previous });
    return structuredClone(object);
  }

  remove(gr, namespace, name) {
    const collection = this.collection(gr);
    const key = objectKey(namespace, name);
    const previous = collection.get(key);
    if (!previous) return null;
    this.history(gr);
    collection.delete(key);
    this.resourceVersion += 1;
    // Like etcd's watcher, the DELETED event carries the revision of the deletion.
    const object = structuredClone(previous);
    object.metadata.resourceVersion = String(this.resourceVersion);
    this.persist();
    this.record(gr, { type: 'DELETED', rv: this.resourceVersion, object, previous });
    return structuredClone(object);
  }

  record(gr, event) {
    const history = this.history(gr);
    history.events.push(event);
    while (history.events.length > this.historySize) history.start = history.events.shift().rv;
    for (const watcher of [...(this.watchers.get(gr) || [])]) watcher.deliver(event);
  }

  // watch replays events after fromRv (or synthetic ADDED events when fromRv is null) and then
  // delivers live ones; send(type, object) receives storage-form objects. Throws 410 Gone when
  // fromRv is older than the history.
  watch(gr, { fromRv, filter, send }) {
    const history = this.history(gr);
    if (fromRv !== null && fromRv < history.start) {
      throw new ApiError(410, `too old resource version: ${fromRv} (${history.start})`, { reason: 'Expired' });
    }
    const watcher = {
      deliver(event) {
        const now = filter(event.object);
        const before = event.previous ? filter(event.previous) : false;
        if (event.type === 'DELETED') {
          if (before) send('DELETED', event.object);
        } else if (now && before) {
          send('MODIFIED', event.object);
        } else if (now) {
          send('ADDED', event.object);
        } else if (before) {
          send('DELETED', event.object);
        }
      },
    };
    if (fromRv === null) {
      for (const object of this.list(gr, filter).items) send('ADDED', object);
    } else {
      for (const event of history.events) if (event.rv > fromRv) watcher.deliver(event);
    }
    if (!this.watchers.has(gr)) this.watchers.set(gr, new Set());
    this.watchers.get(gr).add(watcher);
    return () => this.watchers.get(gr).delete(watcher);
  }

  // dropResource deletes every object of a resource (CRD deletion). The history stays, so a
  // watch from before a re-created CRD still sees the deletions.
  dropResource(gr) {
    for (const object of [...this.collection(gr).values()]) this.remove(gr, object.metadata.namespace, object.metadata.name);
  }
}

module.exports = { Store, objectKey };
