// Test harness: starts a lab API server on port 0 in a fresh temp dir, waits (with a deadline) for
// its kubeconfig, and offers raw HTTPS requests, watch streams and real kubectl runs against it.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const https = require('https');
const { spawn } = require('child_process');

const kServerScript = path.join(__dirname, '..', 'bin', 'apiserver.js');
const kRepoRoot = path.resolve(__dirname, '..', '..', '..');
const kKubectl = process.env.KUBECTL || 'kubectl';

async function waitFor(condition, { timeoutMs = 10000, intervalMs = 20, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

function parseKubeconfig(text) {
  const server = /server: (\S+)/.exec(text)[1];
  const ca = Buffer.from(/certificate-authority-data: (\S+)/.exec(text)[1], 'base64');
  const token = /token: (\S+)/.exec(text)[1];
  return { server, ca, token };
}

class LabServer {
  constructor({ dir, dataDir, args }) {
    this.dir = dir;
    this.dataDir = dataDir;
    this.args = args;
    this.kubeconfig = path.join(dir, 'kubeconfig');
    this.cacheDir = path.join(dir, 'kubectl-cache');
    this.log = '';
  }

  async start() {
    fs.rmSync(this.kubeconfig, { force: true });
    const args = [kServerScript, '--listen', '127.0.0.1:0', '--kubeconfig', this.kubeconfig, ...this.args];
    if (this.dataDir) args.push('--data', this.dataDir);
    this.child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr.on('data', (chunk) => { this.log += chunk; });
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
    let exitedEarly = false;
    this.exited.then(() => { exitedEarly = true; });
    await waitFor(() => fs.existsSync(this.kubeconfig) || exitedEarly, { what: 'the kubeconfig' });
    if (!fs.existsSync(this.kubeconfig)) throw new Error(`apiserver exited early:\n${this.log}`);
    Object.assign(this, parseKubeconfig(fs.readFileSync(this.kubeconfig, 'utf8')));
    this.agent = new https.Agent({ ca: this.ca, keepAlive: false });
    return this;
  }

  async stop() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    process.kill(this.child.pid, 'SIGTERM');
    let timer;
    const deadline = new Promise((resolve) => { timer = setTimeout(() => resolve(null), 5000); });
    const result = await Promise.race([this.exited, deadline]);
    clearTimeout(timer);
    if (!result) {
      process.kill(this.child.pid, 'SIGKILL');
      return this.exited;
    }
    return result;
  }

  // request sends one HTTPS request; body objects are JSON-encoded. Resolves {status, headers, body, text}.
  request(method, urlPath, { body, contentType, headers = {}, token = this.token } = {}) {
    const url = new URL(urlPath, this.server);
    const payload = body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body);
    const allHeaders = { ...headers };
    if (token !== null) allHeaders.Authorization = `Bearer ${token}`;
    if (payload !== null) {
      allHeaders['Content-Type'] = contentType || 'application/json';
      allHeaders['Content-Length'] = Buffer.byteLength(payload);
    }
    return new Promise((resolve, reject) => {
      const req = https.request(url, { method, headers: allHeaders, agent: this.agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => { text += chunk; });
        res.on('end', () => {
          let parsed = null;
          try { parsed = JSON.parse(text); } catch { parsed = null; }
          resolve({ status: res.statusCode, headers: res.headers, body: parsed, text });
        });
      });
      req.on('error', reject);
      if (payload !== null) req.write(payload);
      req.end();
    });
  }

  // watch opens a watch stream and collects its events; waitForEvent polls them with a deadline.
  watch(urlPath, { headers = {} } = {}) {
    const url = new URL(urlPath, this.server);
    const stream = { events: [], ended: false, status: null };
    let buffer = '';
    const req = https.request(url, { method: 'GET', headers: { Authorization: `Bearer ${this.token}`, ...headers }, agent: this.agent }, (res) => {
      stream.status = res.statusCode;
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        buffer += chunk;
        let newline;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          if (line.trim()) stream.events.push(JSON.parse(line));
        }
      });
      res.on('end', () => { stream.ended = true; });
      res.on('error', () => { stream.ended = true; });
    });
    req.on('error', () => { stream.ended = true; });
    req.end();
    stream.close = () => req.destroy();
    stream.waitForEvent = (predicate, what) => waitFor(() => stream.events.find(predicate), { what: what || 'a watch event' });
    stream.waitForEnd = () => waitFor(() => stream.ended, { what: 'the end of the watch' });
    return stream;
  }

  // kubectl runs the real kubectl against this server. Resolves {code, stdout, stderr}.
  kubectl(args, { input } = {}) {
    return new Promise((resolve, reject) => {
      const child = spawn(kKubectl, ['--kubeconfig', this.kubeconfig, '--cache-dir', this.cacheDir, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c) => { stdout += c; });
      child.stderr.on('data', (c) => { stderr += c; });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(input || '');
    });
  }

  // kubectlOk is kubectl that must succeed.
  async kubectlOk(args, options) {
    const result = await this.kubectl(args, options);
    if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${result.code}):\n${result.stderr}${result.stdout}`);
    return result.stdout;
  }
}

// startServer starts a server in a new temp dir; options.dataDir enables persistence.
async function startServer({ dataDir, args = [], dir } = {}) {
  const base = dir || fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-apiserver-test-'));
  const server = new LabServer({ dir: base, dataDir, args });
  await server.start();
  return server;
}

// withServer runs fn(server) and always stops the server and removes its temp dir.
async function withServer(options, fn) {
  const server = await startServer(options);
  try {
    return await fn(server);
  } finally {
    await server.stop();
    fs.rmSync(server.dir, { recursive: true, force: true });
  }
}

const kTestCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.test.sluice.dev' },
  spec: {
    group: 'test.sluice.dev', scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget', shortNames: ['wd'] },
    versions: [
      {
        name: 'v1', served: true, storage: true, subresources: { status: {} },
        additionalPrinterColumns: [
          { name: 'Size', type: 'integer', jsonPath: '.spec.size' },
          { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
          { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
        ],
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object', required: ['size'],
                'x-kubernetes-validations': [{ rule: 'self.size <= self.limit', message: 'size must not exceed limit' }],
                properties: {
                  size: { type: 'integer', minimum: 1, maximum: 100 },
                  limit: { type: 'integer', default: 50 },
                  color: { type: 'string', enum: ['red', 'green'] },
                  address: { type: 'string', format: 'ipv4' },
                  tags: { type: 'array', maxItems: 2, items: { type: 'string' }, 'x-kubernetes-list-type': 'set' },
                  choice: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'string' } }, oneOf: [{ required: ['a'] }, { required: ['b'] }] },
                  forbidden: { type: 'object', properties: { x: { type: 'string' } }, not: { required: ['x'] } },
                  extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                },
              },
              status: { type: 'object', properties: { phase: { type: 'string' }, observed: { type: 'integer' } } },
            },
          },
        },
      },
      {
        name: 'v1alpha1', served: true, storage: false, subresources: { status: {} },
        schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
      },
    ],
  },
};

module.exports = { startServer, withServer, waitFor, kRepoRoot, kTestCrd };
