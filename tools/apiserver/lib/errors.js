// Kubernetes-style errors: every failure leaves the server as a meta/v1 Status, as kube-apiserver's do.
'use strict';

const kReasonByCode = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed',
  406: 'NotAcceptable', 409: 'Conflict', 410: 'Expired', 415: 'UnsupportedMediaType',
  422: 'Invalid', 500: 'InternalError', 504: 'Timeout',
};

class ApiError extends Error {
  constructor(code, message, { reason, details } = {}) {
    super(message);
    this.code = code;
    this.reason = reason || kReasonByCode[code] || 'Unknown';
    this.details = details;
  }

  toStatus() {
    const status = {
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
      message: this.message, reason: this.reason, code: this.code,
    };
    if (this.details) status.details = this.details;
    return status;
  }
}

// resourceLabel gives "egresses.crd.antrea.io" or "pods" as kube prints them in messages.
function resourceLabel(info) {
  return info.group ? `${info.resource}.${info.group}` : info.resource;
}

function notFound(info, name) {
  return new ApiError(404, `${resourceLabel(info)} "${name}" not found`,
    { details: { name, group: info.group, kind: info.resource } });
}

function alreadyExists(info, name) {
  return new ApiError(409, `${resourceLabel(info)} "${name}" already exists`,
    { reason: 'AlreadyExists', details: { name, group: info.group, kind: info.resource } });
}

function conflict(info, name, why) {
  return new ApiError(409,
    `Operation cannot be fulfilled on ${resourceLabel(info)} "${name}": ${why}`,
    { reason: 'Conflict', details: { name, group: info.group, kind: info.resource } });
}

function staleConflict(info, name) {
  return conflict(info, name,
    'the object has been modified; please apply your changes to the latest version and try again');
}

// invalid builds the 422 that kube-apiserver returns for field errors. causes: [{reason, field, message}]
// where message is the part after "field: ", e.g. 'Invalid value: "x": must be ...'.
function invalid(kind, group, name, causes) {
  const qualified = group ? `${kind}.${group}` : kind;
  const parts = causes.map((cause) => (cause.field ? `${cause.field}: ${cause.message}` : cause.message));
  const summary = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
  return new ApiError(422, `${qualified} "${name}" is invalid: ${summary}`, {
    reason: 'Invalid',
    details: { name, group, kind, causes: causes.map((c) => ({ reason: c.reason, message: c.message, field: c.field })) },
  });
}

function badRequest(message) {
  return new ApiError(400, message);
}

module.exports = { ApiError, notFound, alreadyExists, conflict, staleConflict, invalid, badRequest, resourceLabel };
