// Decodes the Kubernetes protobuf request bodies that kubectl's typed clients send for built-in
// kinds (`kubectl create namespace`, `kubectl create configmap`): the "k8s\0" envelope around a
// runtime.Unknown, ObjectMeta, Namespace and ConfigMap. Other kinds answer 415.
'use strict';

const { ApiError } = require('./errors');

const kMagic = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

function readVarint(buffer, state) {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (state.pos >= buffer.length) throw new Error('truncated varint');
    const byte = buffer[state.pos++];
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return result;
    shift += 7n;
  }
}

// fields returns [{number, wire, value}] where value is a BigInt (varint) or a Buffer.
function fields(buffer) {
  const state = { pos: 0 };
  const out = [];
  while (state.pos < buffer.length) {
    const key = Number(readVarint(buffer, state));
    const number = key >> 3;
    const wire = key & 7;
    let value;
    if (wire === 0) value = readVarint(buffer, state);
    else if (wire === 2) {
      const length = Number(readVarint(buffer, state));
      value = buffer.subarray(state.pos, state.pos + length);
      state.pos += length;
    } else if (wire === 1) { value = buffer.subarray(state.pos, state.pos + 8); state.pos += 8; }
    else if (wire === 5) { value = buffer.subarray(state.pos, state.pos + 4); state.pos += 4; }
    else throw new Error(`unsupported wire type ${wire}`);
    out.push({ number, wire, value });
  }
  return out;
}

function mapEntry(buffer, asBytes) {
  let key = '';
  let value = '';
  for (const f of fields(buffer)) {
    if (f.number === 1) key = f.value.toString('utf8');
    if (f.number === 2) value = asBytes ? f.value.toString('base64') : f.value.toString('utf8');
  }
  return [key, value];
}

function objectMeta(buffer) {
  const meta = {};
  const strings = { 1: 'name', 2: 'generateName', 3: 'namespace', 5: 'uid', 6: 'resourceVersion' };
  // Go's encoder writes every field, empty ones too; JSON's omitempty would drop them, so do we.
  // Server-set fields (timestamps, generation) are ignored on writes anyway.
  for (const f of fields(buffer)) {
    if (strings[f.number]) {
      if (f.value.length > 0) meta[strings[f.number]] = f.value.toString('utf8');
    } else if (f.number === 11 || f.number === 12) {
      const field = f.number === 11 ? 'labels' : 'annotations';
      const [k, v] = mapEntry(f.value);
      meta[field] = { ...(meta[field] || {}), [k]: v };
    } else if (f.number === 14) (meta.finalizers = meta.finalizers || []).push(f.value.toString('utf8'));
  }
  return meta;
}

const kDecoders = {
  Namespace(buffer) {
    const object = {};
    for (const f of fields(buffer)) {
      if (f.number === 1) object.metadata = objectMeta(f.value);
      if (f.number === 2) {
        object.spec = {};
        for (const s of fields(f.value)) if (s.number === 1) (object.spec.finalizers = object.spec.finalizers || []).push(s.value.toString('utf8'));
      }
    }
    return object;
  },
  ConfigMap(buffer) {
    const object = {};
    for (const f of fields(buffer)) {
      if (f.number === 1) object.metadata = objectMeta(f.value);
      if (f.number === 2) { const [k, v] = mapEntry(f.value); object.data = { ...(object.data || {}), [k]: v }; }
      if (f.number === 3) { const [k, v] = mapEntry(f.value, true); object.binaryData = { ...(object.binaryData || {}), [k]: v }; }
      if (f.number === 4) object.immutable = f.value !== 0n;
    }
    return object;
  },
};

function decodeKubernetesProtobuf(body) {
  if (body.length < 4 || !body.subarray(0, 4).equals(kMagic)) throw new ApiError(400, 'protobuf body without the k8s envelope');
  let apiVersion = '';
  let kind = '';
  let raw = Buffer.alloc(0);
  for (const f of fields(body.subarray(4))) {
    if (f.number === 1) {
      for (const t of fields(f.value)) {
        if (t.number === 1) apiVersion = t.value.toString('utf8');
        if (t.number === 2) kind = t.value.toString('utf8');
      }
    }
    if (f.number === 2) raw = f.value;
  }
  const decoder = kDecoders[kind];
  if (!decoder) {
    throw new ApiError(415, `the lab API server decodes protobuf only for Namespace and ConfigMap, not ${kind}; send application/json`);
  }
  return { apiVersion, kind, ...decoder(raw) };
}

module.exports = { decodeKubernetesProtobuf };
