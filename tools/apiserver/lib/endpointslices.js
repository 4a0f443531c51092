// EndpointSlices (discovery.k8s.io/v1): kube's field validation (ValidateEndpointSlice, same
// messages) and the kubectl columns (NAME ADDRESSTYPE PORTS ENDPOINTS AGE).
'use strict';

const kAddressTypes = ['FQDN', 'IPv4', 'IPv6'];
const kProtocols = ['SCTP', 'TCP', 'UDP'];
const kMaxEndpoints = 1000;
const kMaxPorts = 20000;

function cause(reason, field, message) {
  return { reason, field, message };
}

function unsupported(field, value, supported) {
  return cause('FieldValueNotSupported', field, `Unsupported value: ${JSON.stringify(value)}: supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}`);
}

function validAddress(type, address) {
  if (type === 'IPv4') return /^(\d{1,3})(\.\d{1,3}){3}$/.test(address) && address.split('.').every((p) => Number(p) <= 255);
  if (type === 'IPv6') return typeof address === 'string' && address.includes(':') && require('net').isIPv6(address);
  return typeof address === 'string' && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(address) && address.length <= 253;
}

function validateEndpoints(slice, causes) {
  const endpoints = slice.endpoints || [];
  if (!Array.isArray(endpoints)) { causes.push(cause('FieldValueInvalid', 'endpoints', 'Invalid value: must be a list')); return; }
  if (endpoints.length > kMaxEndpoints) causes.push(cause('FieldValueTooMany', 'endpoints', `Too many: ${endpoints.length}: must have at most ${kMaxEndpoints} items`));
  endpoints.forEach((endpoint, i) => {
    const path = `endpoints[${i}]`;
    const addresses = (endpoint && endpoint.addresses) || [];
    if (addresses.length === 0) causes.push(cause('FieldValueRequired', `${path}.addresses`, 'Required value: must contain at least 1 address'));
    else if (addresses.length > 100) causes.push(cause('FieldValueTooMany', `${path}.addresses`, `Too many: ${addresses.length}: must have at most 100 items`));
    addresses.forEach((address, j) => {
      if (kAddressTypes.includes(slice.addressType) && !validAddress(slice.addressType, address)) {
        const what = slice.addressType === 'FQDN' ? 'must be a valid FQDN' : `must be a valid ${slice.addressType} address`;
        causes.push(cause('FieldValueInvalid', `${path}.addresses[${j}]`, `Invalid value: ${JSON.stringify(address)}: ${what}`));
      }
    });
    const conditions = (endpoint && endpoint.conditions) || {};
    for (const key of ['ready', 'serving', 'terminating']) {
      if (conditions[key] !== undefined && conditions[key] !== null && typeof conditions[key] !== 'boolean') {
        causes.push(cause('FieldValueInvalid', `${path}.conditions.${key}`, `Invalid value: ${JSON.stringify(conditions[key])}: must be a boolean`));
      }
    }
  });
}

function validatePorts(slice, causes) {
  const ports = slice.ports || [];
  if (!Array.isArray(ports)) { causes.push(cause('FieldValueInvalid', 'ports', 'Invalid value: must be a list')); return; }
  if (ports.length > kMaxPorts) causes.push(cause('FieldValueTooMany', 'ports', `Too many: ${ports.length}: must have at most ${kMaxPorts} items`));
  const names = new Set();
  ports.forEach((port, i) => {
    const path = `ports[${i}]`;
    const name = (port && port.name) || '';
    if (names.has(name)) causes.push(cause('FieldValueDuplicate', `${path}.name`, `Duplicate value: ${JSON.stringify(name)}`));
    names.add(name);
    if (name && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) {
      causes.push(cause('FieldValueInvalid', `${path}.name`, `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`));
    }
    if (!port || port.protocol === undefined || port.protocol === null) causes.push(cause('FieldValueRequired', `${path}.protocol`, 'Required value'));
    else if (!kProtocols.includes(port.protocol)) causes.push(unsupported(`${path}.protocol`, port.protocol, kProtocols));
    if (port && port.port !== undefined && port.port !== null && !(Number.isInteger(port.port) && port.port >= 1 && port.port <= 65535)) {
      causes.push(cause('FieldValueInvalid', `${path}.port`, `Invalid value: ${JSON.stringify(port.port)}: must be between 1 and 65535, inclusive`));
    }
  });
}

function defaultEndpointSlice(slice) {
  for (const port of Array.isArray(slice.ports) ? slice.ports : []) {
    if (port && typeof port === 'object') {
      if (port.protocol === undefined) port.protocol = 'TCP';
      if (port.name === undefined) port.name = '';
    }
  }
}

function validateEndpointSlice(slice, old) {
  const causes = [];
  if (!slice.addressType) causes.push(cause('FieldValueRequired', 'addressType', 'Required value'));
  else if (!kAddressTypes.includes(slice.addressType)) causes.push(unsupported('addressType', slice.addressType, kAddressTypes));
  if (old && old.addressType && slice.addressType !== old.addressType) {
    causes.push(cause('FieldValueInvalid', 'addressType', `Invalid value: ${JSON.stringify(slice.addressType)}: field is immutable`));
  }
  validateEndpoints(slice, causes);
  validatePorts(slice, causes);
  return causes;
}

function formatPorts(slice) {
  const ports = slice.ports || [];
  if (ports.length === 0) return '<unset>';
  const shown = ports.slice(0, 3).map((p) => String(p.port === undefined || p.port === null ? '<unset>' : p.port));
  return ports.length > 3 ? `${shown.join(',')} + ${ports.length - 3} more...` : shown.join(',');
}

function formatEndpoints(slice) {
  const addresses = (slice.endpoints || []).flatMap((e) => e.addresses || []);
  if (addresses.length === 0) return '<unset>';
  const shown = addresses.slice(0, 3).join(',');
  return addresses.length > 3 ? `${shown} + ${addresses.length - 3} more...` : shown;
}

module.exports = { validateEndpointSlice, defaultEndpointSlice, formatPorts, formatEndpoints };
