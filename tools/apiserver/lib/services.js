// Services (core/v1) as kube-apiserver serves them: the defaults its strategy sets, the field
// validation of pkg/apis/core/validation (same messages), and the ClusterIP and NodePort
// allocators. Allocations are derived from the stored Services, so deleting a Service releases
// them and a restarted server (objects persist) keeps them without a separate bitmap.
'use strict';

const kServiceCidr = { base: ipToInt('10.96.0.0'), bits: 12, text: '10.96.0.0/12' };
const kKubernetesServiceIp = '10.96.0.1';
const kNodePortRange = { min: 30000, max: 32767 };
const kProtocols = ['SCTP', 'TCP', 'UDP'];
const kTypes = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];

function ipToInt(text) {
  const parts = String(text).split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

function intToIp(value) {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

function inServiceRange(ip) {
  const value = ipToInt(ip);
  const size = 2 ** (32 - kServiceCidr.bits);
  // The network and broadcast addresses are never handed out, as in kube's allocator.
  return value !== null && value > kServiceCidr.base && value < kServiceCidr.base + size - 1;
}

function isHeadless(spec) {
  return spec.clusterIP === 'None';
}

function needsNodePorts(spec) {
  return spec.type === 'NodePort' || spec.type === 'LoadBalancer';
}

// defaultService applies what SetDefaults_Service and the strategy's PrepareForCreate set.
function defaultService(service) {
  const spec = service.spec || (service.spec = {});
  if (!spec.type) spec.type = 'ClusterIP';
  if (!spec.sessionAffinity) spec.sessionAffinity = 'None';
  if (spec.sessionAffinity === 'ClientIP') {
    spec.sessionAffinityConfig = spec.sessionAffinityConfig || {};
    spec.sessionAffinityConfig.clientIP = spec.sessionAffinityConfig.clientIP || {};
    if (spec.sessionAffinityConfig.clientIP.timeoutSeconds === undefined) spec.sessionAffinityConfig.clientIP.timeoutSeconds = 10800;
  }
  if (spec.type !== 'ExternalName' && !spec.internalTrafficPolicy) spec.internalTrafficPolicy = 'Cluster';
  if (needsNodePorts(spec) && !spec.externalTrafficPolicy) spec.externalTrafficPolicy = 'Cluster';
  if (spec.type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts === undefined) spec.allocateLoadBalancerNodePorts = true;
  for (const port of spec.ports || []) {
    if (!port || typeof port !== 'object') continue;
    if (!port.protocol) port.protocol = 'TCP';
    if (port.targetPort === undefined || port.targetPort === 0 || port.targetPort === '') port.targetPort = port.port;
  }
  // clusterIP and clusterIPs mirror each other (the allocator fills both when empty).
  if (spec.clusterIP && !spec.clusterIPs) spec.clusterIPs = [spec.clusterIP];
  if (!spec.clusterIP && Array.isArray(spec.clusterIPs) && spec.clusterIPs.length) spec.clusterIP = spec.clusterIPs[0];
  if (spec.type !== 'ExternalName') {
    if (!spec.ipFamilies) spec.ipFamilies = ['IPv4'];
    if (!spec.ipFamilyPolicy) spec.ipFamilyPolicy = 'SingleStack';
  }
  if (!service.status) service.status = { loadBalancer: {} };
}

// duplicatePortValue renders the key kube compares ports by (core.ServicePort{Protocol, Port}) as
// kube 1.31+ prints a struct in a field error: JSON with the internal type's Go field names.
function duplicatePortValue(port) {
  return `{"Name":"","Protocol":${JSON.stringify(port.protocol)},"AppProtocol":null,"Port":${port.port},"TargetPort":0,"NodePort":0}`;
}

function cause(reason, field, message) {
  return { reason, field, message };
}

function unsupported(field, value, supported) {
  return cause('FieldValueNotSupported', field, `Unsupported value: ${JSON.stringify(value)}: supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}`);
}

function invalidValue(field, value, detail) {
  return cause('FieldValueInvalid', field, `Invalid value: ${typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value)}: ${detail}`);
}

function validPortNumber(value) {
  return Number.isInteger(value) && value >= 1 && value <= 65535;
}

const kIanaSvcName = /^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/;

function validatePorts(spec, causes) {
  const ports = Array.isArray(spec.ports) ? spec.ports : [];
  if (ports.length === 0 && !isHeadless(spec) && spec.type !== 'ExternalName') {
    causes.push(cause('FieldValueRequired', 'spec.ports', 'Required value'));
  }
  const names = new Set();
  const keys = new Set();
  ports.forEach((port, i) => {
    const path = `spec.ports[${i}]`;
    if (ports.length > 1 && !port.name) causes.push(cause('FieldValueRequired', `${path}.name`, 'Required value'));
    if (port.name) {
      if (names.has(port.name)) causes.push(cause('FieldValueDuplicate', `${path}.name`, `Duplicate value: ${JSON.stringify(port.name)}`));
      names.add(port.name);
    }
    if (!validPortNumber(port.port)) causes.push(invalidValue(`${path}.port`, port.port, 'must be between 1 and 65535, inclusive'));
    if (!kProtocols.includes(port.protocol)) causes.push(unsupported(`${path}.protocol`, port.protocol, kProtocols));
    if (typeof port.targetPort === 'number' && !validPortNumber(port.targetPort)) {
      causes.push(invalidValue(`${path}.targetPort`, port.targetPort, 'must be between 1 and 65535, inclusive'));
    } else if (typeof port.targetPort === 'string' && !kIanaSvcName.test(port.targetPort)) {
      causes.push(invalidValue(`${path}.targetPort`, port.targetPort, 'must contain only lowercase alphanumeric characters or \'-\', at most 15 characters, and may not begin or end with \'-\''));
    }
    if (port.nodePort !== undefined && port.nodePort !== 0 && !needsNodePorts(spec)) {
      causes.push(cause('FieldValueForbidden', `${path}.nodePort`, 'Forbidden: may not be used when `type` is \'ClusterIP\''));
    }
    const key = `${port.protocol}/${port.port}`;
    if (keys.has(key)) causes.push(cause('FieldValueDuplicate', path, `Duplicate value: ${duplicatePortValue(port)}`));
    keys.add(key);
  });
}

// validateService returns kube's field errors for a defaulted Service (old: the stored one on update).
function validateService(service, old) {
  const spec = service.spec || {};
  const causes = [];
  if (!kTypes.includes(spec.type)) causes.push(unsupported('spec.type', spec.type, kTypes));
  if (!['ClientIP', 'None'].includes(spec.sessionAffinity)) causes.push(unsupported('spec.sessionAffinity', spec.sessionAffinity, ['ClientIP', 'None']));
  const timeout = spec.sessionAffinityConfig && spec.sessionAffinityConfig.clientIP && spec.sessionAffinityConfig.clientIP.timeoutSeconds;
  if (spec.sessionAffinity === 'ClientIP' && !(Number.isInteger(timeout) && timeout > 0 && timeout <= 86400)) {
    causes.push(invalidValue('spec.sessionAffinityConfig.clientIP.timeoutSeconds', timeout, 'must be greater than 0 and less than 86400'));
  }
  if (spec.sessionAffinity === 'None' && spec.sessionAffinityConfig && spec.sessionAffinityConfig.clientIP) {
    causes.push(cause('FieldValueForbidden', 'spec.sessionAffinityConfig', `Forbidden: must not be set when session affinity is None`));
  }
  if (spec.internalTrafficPolicy && !['Cluster', 'Local'].includes(spec.internalTrafficPolicy)) {
    causes.push(unsupported('spec.internalTrafficPolicy', spec.internalTrafficPolicy, ['Cluster', 'Local']));
  }
  if (spec.externalTrafficPolicy && !['Cluster', 'Local'].includes(spec.externalTrafficPolicy)) {
    causes.push(unsupported('spec.externalTrafficPolicy', spec.externalTrafficPolicy, ['Cluster', 'Local']));
  }
  if (spec.type === 'ExternalName' && !spec.externalName) causes.push(cause('FieldValueRequired', 'spec.externalName', 'Required value'));
  if (spec.clusterIP && spec.clusterIP !== 'None' && ipToInt(spec.clusterIP) === null) {
    causes.push(invalidValue('spec.clusterIPs[0]', spec.clusterIP, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
  }
  if (Array.isArray(spec.clusterIPs) && spec.clusterIP && spec.clusterIPs[0] !== spec.clusterIP) {
    causes.push(invalidValue('spec.clusterIPs', spec.clusterIPs, 'first value must match `clusterIP`'));
  }
  if (spec.ipFamilies && spec.ipFamilies.some((f) => f !== 'IPv4')) {
    causes.push(unsupported('spec.ipFamilies[0]', spec.ipFamilies.find((f) => f !== 'IPv4'), ['IPv4']));
  }
  validatePorts(spec, causes);
  if (old && old.spec && old.spec.clusterIP && old.spec.type !== 'ExternalName' && spec.type !== 'ExternalName'
      && spec.clusterIP !== old.spec.clusterIP) {
    // kube prints the whole new clusterIPs list here (as JSON, like every non-scalar value).
    causes.push(cause('FieldValueInvalid', 'spec.clusterIPs[0]', `Invalid value: ${JSON.stringify(spec.clusterIPs || [spec.clusterIP || ''])}: may not change once set`));
  }
  return causes;
}

// keepAllocatedOnUpdate copies the stored clusterIP and nodePorts into an update that left them
// empty, as kube-apiserver's patchAllocatedValues does (so `kubectl apply` and PUTs without them work).
function keepAllocatedOnUpdate(service, old) {
  const spec = service.spec || (service.spec = {});
  const oldSpec = (old && old.spec) || {};
  // Only clusterIP changed: clusterIPs follows it (kube's normalizeClusterIPs), so the
  // immutability error names the new value.
  if (spec.clusterIP && spec.clusterIP !== oldSpec.clusterIP && JSON.stringify(spec.clusterIPs) === JSON.stringify(oldSpec.clusterIPs)) {
    spec.clusterIPs = [spec.clusterIP];
  }
  if (!spec.clusterIP && oldSpec.clusterIP && spec.type !== 'ExternalName') {
    spec.clusterIP = oldSpec.clusterIP;
    spec.clusterIPs = oldSpec.clusterIPs || [oldSpec.clusterIP];
  }
  // Leaving NodePort/LoadBalancer releases the nodePorts the user did not change (kube's
  // dropTypeDependentFields), so `kubectl patch -p '{"spec":{"type":"ClusterIP"}}'` works.
  if (!needsNodePorts(spec) && needsNodePorts(oldSpec)) {
    for (const port of spec.ports || []) {
      const match = (oldSpec.ports || []).find((p) => p.nodePort && p.nodePort === port.nodePort);
      if (match) delete port.nodePort;
    }
    if (spec.externalTrafficPolicy === oldSpec.externalTrafficPolicy) delete spec.externalTrafficPolicy;
  }
  if (needsNodePorts(spec) && needsNodePorts(oldSpec)) {
    for (const port of spec.ports || []) {
      if (port.nodePort) continue;
      const match = (oldSpec.ports || []).find((p) => p.port === port.port && (p.protocol || 'TCP') === (port.protocol || 'TCP'));
      if (match && match.nodePort) port.nodePort = match.nodePort;
    }
  }
}

function usedAllocations(services, except) {
  const ips = new Set([kKubernetesServiceIp]);
  const nodePorts = new Map(); // port -> "ns/name"
  for (const service of services) {
    const key = `${service.metadata.namespace}/${service.metadata.name}`;
    if (key === except) continue;
    const spec = service.spec || {};
    if (spec.clusterIP && spec.clusterIP !== 'None') ips.add(spec.clusterIP);
    for (const port of spec.ports || []) if (port.nodePort) nodePorts.set(port.nodePort, key);
  }
  return { ips, nodePorts };
}

// allocate fills clusterIP/clusterIPs and nodePorts, honouring requested values. services: every
// stored Service. Returns field errors (the allocator's messages) instead of throwing.
function allocate(service, services) {
  const spec = service.spec;
  const key = `${service.metadata.namespace}/${service.metadata.name}`;
  const isKubernetes = key === 'default/kubernetes';
  const { ips, nodePorts } = usedAllocations(services, key);
  if (isKubernetes) ips.delete(kKubernetesServiceIp);
  const causes = [];
  if (spec.type !== 'ExternalName' && !isHeadless(spec)) {
    if (spec.clusterIP) {
      const describe = JSON.stringify([spec.clusterIP]);
      if (!inServiceRange(spec.clusterIP)) {
        causes.push(cause('FieldValueInvalid', 'spec.clusterIPs', `Invalid value: ${describe}: failed to allocate IP ${spec.clusterIP}: the provided IP (${spec.clusterIP}) is not in the valid range. The range of valid IPs is ${kServiceCidr.text}`));
      } else if (ips.has(spec.clusterIP)) {
        causes.push(cause('FieldValueInvalid', 'spec.clusterIPs', `Invalid value: ${describe}: failed to allocate IP ${spec.clusterIP}: provided IP is already allocated`));
      }
    } else {
      const ip = freeClusterIp(ips);
      if (!ip) causes.push(cause('FieldValueInvalid', 'spec.clusterIPs', `Invalid value: []: failed to allocate IP: range is full`));
      else { spec.clusterIP = ip; spec.clusterIPs = [ip]; }
    }
  }
  if (isHeadless(spec)) spec.clusterIPs = ['None'];
  if (needsNodePorts(spec) && !(spec.type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts === false)) {
    (spec.ports || []).forEach((port, i) => {
      const path = `spec.ports[${i}].nodePort`;
      if (port.nodePort) {
        if (port.nodePort < kNodePortRange.min || port.nodePort > kNodePortRange.max) {
          causes.push(invalidValue(path, port.nodePort, `provided port is not in the valid range. The range of valid ports is ${kNodePortRange.min}-${kNodePortRange.max}`));
        } else if (nodePorts.has(port.nodePort)) {
          causes.push(invalidValue(path, port.nodePort, 'provided port is already allocated'));
        }
        nodePorts.set(port.nodePort, key);
        return;
      }
      // A TCP and a UDP port with the same number share one nodePort, as kube allocates them.
      const twin = spec.ports.slice(0, i).find((p) => p.port === port.port && p.nodePort);
      const chosen = twin ? twin.nodePort : freeNodePort(nodePorts);
      if (!chosen) { causes.push(invalidValue(path, 0, 'range is full')); return; }
      port.nodePort = chosen;
      nodePorts.set(chosen, key);
    });
  } else if (!needsNodePorts(spec)) {
    for (const port of spec.ports || []) if (port.nodePort === 0) delete port.nodePort;
  }
  return causes;
}

// freeClusterIp picks a random free address (kube picks randomly from the upper part first; any
// free one is as good for the lab), avoiding the reserved 10.96.0.1 and 10.96.0.10 (cluster DNS)
// unless asked for explicitly.
function freeClusterIp(used) {
  const size = 2 ** (32 - kServiceCidr.bits);
  const start = 16 + Math.floor(Math.random() * (size - 32));
  for (let i = 0; i < size - 2; i++) {
    const offset = 1 + ((start + i) % (size - 2));
    const ip = intToIp(kServiceCidr.base + offset);
    if (offset !== 10 && !used.has(ip)) return ip;
  }
  return null;
}

function freeNodePort(used) {
  const span = kNodePortRange.max - kNodePortRange.min + 1;
  const start = Math.floor(Math.random() * span);
  for (let i = 0; i < span; i++) {
    const port = kNodePortRange.min + ((start + i) % span);
    if (!used.has(port)) return port;
  }
  return 0;
}

function formatPorts(service) {
  const ports = (service.spec && service.spec.ports) || [];
  if (ports.length === 0) return '<none>';
  return ports.map((p) => (p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol}` : `${p.port}/${p.protocol}`)).join(',');
}

function externalIp(service) {
  const spec = service.spec || {};
  if (spec.type === 'ExternalName') return spec.externalName || '<none>';
  const ingress = ((service.status && service.status.loadBalancer && service.status.loadBalancer.ingress) || []).map((i) => i.ip || i.hostname);
  const all = [...ingress, ...(spec.externalIPs || [])];
  if (all.length) return all.join(',');
  return spec.type === 'LoadBalancer' ? '<pending>' : '<none>';
}

function formatSelector(service) {
  const selector = (service.spec && service.spec.selector) || {};
  const pairs = Object.keys(selector).sort().map((k) => `${k}=${selector[k]}`);
  return pairs.length ? pairs.join(',') : '<none>';
}

// ServiceCIDR (networking.k8s.io): spec.cidrs holds one or two CIDRs (one per family), set at
// create and immutable. IPv4 entries are checked here; IPv6 ones are taken as written.
function validateServiceCidr(object, old) {
  const cidrs = (object.spec && object.spec.cidrs) || [];
  const causes = [];
  if (!Array.isArray(cidrs) || cidrs.length === 0) causes.push(cause('FieldValueRequired', 'spec.cidrs', 'Required value'));
  else if (cidrs.length > 2) causes.push(cause('FieldValueTooMany', 'spec.cidrs', `Too many: ${cidrs.length}: must have at most 2 items`));
  else {
    cidrs.forEach((text, i) => {
      if (String(text).includes(':')) return;
      const [address, bits, extra] = String(text).split('/');
      const base = ipToInt(address);
      const prefix = /^\d{1,2}$/.test(bits || '') ? Number(bits) : -1;
      if (base === null || prefix < 0 || prefix > 32 || extra !== undefined) {
        causes.push(invalidValue(`spec.cidrs[${i}]`, text, 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'));
      } else if (prefix < 32 && base % 2 ** (32 - prefix) !== 0) {
        causes.push(invalidValue(`spec.cidrs[${i}]`, text, `must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64); did you mean ${intToIp(base - (base % 2 ** (32 - prefix)))}/${prefix}?`));
      }
    });
  }
  if (old && JSON.stringify((old.spec && old.spec.cidrs) || []) !== JSON.stringify(cidrs)) {
    causes.push(invalidValue('spec.cidrs', cidrs, 'field is immutable'));
  }
  return causes;
}

module.exports = {
  validateServiceCidr,
  defaultService, validateService, keepAllocatedOnUpdate, allocate, formatPorts, externalIp, formatSelector,
  kKubernetesServiceIp, kServiceCidr, inServiceRange, ipToInt,
};
