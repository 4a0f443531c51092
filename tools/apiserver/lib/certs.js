// A CA and a serving certificate for the lab API server, made with the openssl CLI (EC P-256 keys,
// fast to generate) and reused from the data directory when they match the listen address.
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const net = require('net');

function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

// ensureCerts returns {caPem, certPem, keyPem}; hosts are the IPs/names the certificate must cover.
function ensureCerts(dir, hosts) {
  fs.mkdirSync(dir, { recursive: true });
  const file = (name) => path.join(dir, name);
  const sans = [...new Set(hosts)].map((h) => (net.isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  if (!fs.existsSync(file('ca.crt')) || !fs.existsSync(file('ca.key'))) {
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3650', '-subj', '/CN=sluice-lab-ca',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
    fs.rmSync(file('serving.sans'), { force: true });
  }
  const sameSans = fs.existsSync(file('serving.sans')) && fs.readFileSync(file('serving.sans'), 'utf8') === sans;
  if (!sameSans || !fs.existsSync(file('apiserver.crt')) || !fs.existsSync(file('apiserver.key'))) {
    // OpenSSL 3's `req -CA` signs directly: one process for key, request and certificate.
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', 'apiserver.key', '-out', 'apiserver.crt', '-days', '3650', '-subj', '/CN=sluice-lab-apiserver',
      '-CA', 'ca.crt', '-CAkey', 'ca.key', '-addext', `subjectAltName=${sans}`, '-addext', 'extendedKeyUsage=serverAuth',
      '-addext', 'basicConstraints=CA:FALSE', '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment'], dir);
    fs.writeFileSync(file('serving.sans'), sans);
  }
  return {
    caPem: fs.readFileSync(file('ca.crt')),
    certPem: fs.readFileSync(file('apiserver.crt')),
    keyPem: fs.readFileSync(file('apiserver.key')),
  };
}

module.exports = { ensureCerts };
