#!/usr/bin/env node
// Entry point of the lab Kubernetes API server (test-only; see docs/lab-apiserver.md):
//   apiserver.js --listen ADDR:PORT --kubeconfig OUT [--data DIR] [--token TOKEN] [--watch-cache-size N]
// The kubeconfig appears (atomically) only once the server listens, so "OUT exists" means ready.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const https = require('https');
const crypto = require('crypto');
const net = require('net');
const { ensureCerts } = require('../lib/certs');
const { ApiServer } = require('../lib/server');

const kUsage = 'usage: apiserver.js --listen ADDR:PORT --kubeconfig OUT [--data DIR] [--token TOKEN] [--watch-cache-size N]';

function die(message) {
  process.stderr.write(`apiserver: ${message}\n${kUsage}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const options = { watchCacheSize: 1000 };
  const names = { '--listen': 'listen', '--kubeconfig': 'kubeconfig', '--data': 'data', '--token': 'token', '--watch-cache-size': 'watchCacheSize' };
  for (let i = 0; i < argv.length; i++) {
    const [flag, rawValue] = argv[i].split(/=(.*)/s);
    if (flag === '-h' || flag === '--help') {
      process.stdout.write(`${kUsage}\n`);
      process.exit(0);
    }
    if (!(flag in names)) die(`unknown argument '${argv[i]}'`);
    let value = rawValue;
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) die(`${flag} needs a value`);
    }
    options[names[flag]] = value;
  }
  if (!options.listen) die('--listen ADDR:PORT is required');
  if (!options.kubeconfig) die('--kubeconfig OUT is required');
  const match = /^\[?([^\]]*?)\]?:(\d+)$/.exec(options.listen);
  if (!match || !net.isIP(match[1])) die(`--listen '${options.listen}' must be IP:PORT, e.g. 127.0.0.1:0 or [::1]:6443`);
  options.host = match[1];
  options.port = Number(match[2]);
  options.watchCacheSize = Number(options.watchCacheSize);
  if (!Number.isInteger(options.watchCacheSize) || options.watchCacheSize < 1) die('--watch-cache-size must be a positive integer');
  return options;
}

function kubeconfigText({ server, caPem, token }) {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: sluice-lab',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}`,
    'users:',
    '- name: sluice-lab-admin',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: sluice-lab',
    '  context:',
    '    cluster: sluice-lab',
    '    user: sluice-lab-admin',
    'current-context: sluice-lab',
    '',
  ].join('\n');
}

function main() {
  const options = parseArgs(process.argv.slice(2));
  const dataDir = options.data ? path.resolve(options.data) : fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-apiserver-'));
  fs.mkdirSync(dataDir, { recursive: true });
  let token = options.token;
  const tokenFile = path.join(dataDir, 'token');
  if (!token && options.data && fs.existsSync(tokenFile)) token = fs.readFileSync(tokenFile, 'utf8').trim();
  if (!token) token = crypto.randomBytes(24).toString('hex');
  if (options.data) fs.writeFileSync(tokenFile, token, { mode: 0o600 });
  const unspecified = options.host === '0.0.0.0' || options.host === '::';
  const clientHost = unspecified ? (options.host === '::' ? '::1' : '127.0.0.1') : options.host;
  const certs = ensureCerts(path.join(dataDir, 'pki'), [options.host, clientHost, '127.0.0.1', 'localhost'].filter((h) => !['0.0.0.0', '::'].includes(h)));
  const hostForUrl = net.isIPv6(clientHost) ? `[${clientHost}]` : clientHost;
  const api = new ApiServer({ token, dataDir: options.data ? dataDir : null, watchCacheSize: options.watchCacheSize });
  const server = https.createServer({ cert: certs.certPem, key: certs.keyPem, keepAliveTimeout: 60000 }, (req, res) => api.handle(req, res));
  server.on('clientError', (err, socket) => socket.destroy());
  server.listen(options.port, options.host, () => {
    const { port } = server.address();
    api.address = `${hostForUrl}:${port}`;
    api.startControllers({ advertiseIp: clientHost, port });
    const out = path.resolve(options.kubeconfig);
    const temp = `${out}.tmp-${process.pid}`;
    fs.writeFileSync(temp, kubeconfigText({ server: `https://${hostForUrl}:${port}`, caPem: certs.caPem, token }), { mode: 0o600 });
    fs.renameSync(temp, out);
    process.stderr.write(`apiserver: listening on https://${hostForUrl}:${port}, data ${options.data ? dataDir : '(memory)'}, kubeconfig ${out}\n`);
  });
  server.on('error', (err) => {
    process.stderr.write(`apiserver: cannot listen on ${options.listen}: ${err.message}\n`);
    process.exit(1);
  });
  const stop = (signal) => {
    process.stderr.write(`apiserver: ${signal}, exiting\n`);
    api.closeAllWatches();
    server.close();
    server.closeAllConnections();
    if (!options.data) fs.rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main();
