// Decodes the Kubernetes protobuf request bodies that kubectl's typed clients send for built-in
// kinds (`kubectl create namespace|configmap|service`, `kubectl expose`): the "k8s\0" envelope
// around a runtime.Unknown, ObjectMeta, Namespace, ConfigMap and Service. Other kinds answer 415.
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

// int32/int64 varints: negative values arrive as 64-bit two's complement.
function int(value) {
  return Number(BigInt.asIntN(64, value));
}

function text(value) {
  return value.toString('utf8');
}

function intOrString(buffer) {
  let type = 0;
  let intVal = 0;
  let strVal = '';
  for (const f of fields(buffer)) {
    if (f.number === 1) type = int(f.value);
    if (f.number === 2) intVal = int(f.value);
    if (f.number === 3) strVal = text(f.value);
  }
  return type === 1 ? strVal : intVal;
}

function servicePort(buffer) {
  const port = {};
  for (const f of fields(buffer)) {
    if (f.number === 1 && f.value.length) port.name = text(f.value);
    if (f.number === 2 && f.value.length) port.protocol = text(f.value);
    if (f.number === 6) port.appProtocol = text(f.value);
    if (f.number === 3 && f.value) port.port = int(f.value);
    if (f.number === 4) { const target = intOrString(f.value); if (target !== 0 && target !== '') port.targetPort = target; }
    if (f.number === 5 && f.value) port.nodePort = int(f.value);
  }
  return port;
}

// serviceSpec decodes core/v1 ServiceSpec (field numbers of k8s.io/api/core/v1/generated.proto).
function serviceSpec(buffer) {
  const spec = {};
  const strings = { 3: 'clusterIP', 4: 'type', 7: 'sessionAffinity', 8: 'loadBalancerIP', 10: 'externalName', 11: 'externalTrafficPolicy',
    17: 'ipFamilyPolicy', 21: 'loadBalancerClass', 22: 'internalTrafficPolicy', 23: 'trafficDistribution' };
  const lists = { 5: 'externalIPs', 9: 'loadBalancerSourceRanges', 18: 'clusterIPs', 19: 'ipFamilies' };
  for (const f of fields(buffer)) {
    if (f.number === 1) (spec.ports = spec.ports || []).push(servicePort(f.value));
    else if (f.number === 2) { const [k, v] = mapEntry(f.value); spec.selector = { ...(spec.selector || {}), [k]: v }; }
    else if (strings[f.number]) { if (f.value.length) spec[strings[f.number]] = text(f.value); }
    else if (lists[f.number]) (spec[lists[f.number]] = spec[lists[f.number]] || []).push(text(f.value));
    else if (f.number === 12 && f.value) spec.healthCheckNodePort = int(f.value);
    else if (f.number === 13) { if (f.value !== 0n) spec.publishNotReadyAddresses = true; }
    else if (f.number === 20) spec.allocateLoadBalancerNodePorts = f.value !== 0n;
    else if (f.number === 14) {
      spec.sessionAffinityConfig = {};
      for (const c of fields(f.value)) {
        if (c.number !== 1) continue;
        spec.sessionAffinityConfig.clientIP = {};
        for (const t of fields(c.value)) if (t.number === 1) spec.sessionAffinityConfig.clientIP.timeoutSeconds = int(t.value);
      }
    }
  }
  return spec;
}

const kDecoders = {
  Service(buffer) {
    const object = {};
    for (const f of fields(buffer)) {
      if (f.number === 1) object.metadata = objectMeta(f.value);
      if (f.number === 2) object.spec = serviceSpec(f.value);
    }
    return object;
  },
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
    throw new ApiError(415, `the lab API server decodes protobuf only for Namespace, ConfigMap and Service, not ${kind}; send application/json`);
  }
  return { apiVersion, kind, ...decoder(raw) };
}

module.exports = { decodeKubernetesProtobuf };
