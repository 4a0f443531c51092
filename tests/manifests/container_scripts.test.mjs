// Tests the scripts the agent DaemonSet's containers run (container/install-cni and
// container/start-ovs), with the real ConfigMap contents, in temporary directories. start-ovs
// runs Debian's real ovsdb-server and ovs-vswitchd in a private network namespace (root only).
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { loadDocuments, repoPath } from './lib/load.mjs';

const config = loadDocuments(repoPath('manifests/sluice.yml')).find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'sluice-config');
const installCni = repoPath('container/install-cni');
const startOvs = repoPath('container/start-ovs');
const tempDirs = [];
after(() => tempDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function tempDir() {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-manifest-test-'));
  tempDirs.push(d);
  return d;
}

// Polls `condition` until it returns true or `timeoutMs` passes.
async function waitFor(condition, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

describe('install-cni', () => {
  // A host (bin and conf dirs) plus the image's files, with the agent config edited by `edit`.
  function setup(edit = (text) => text) {
    const root = tempDir();
    for (const d of ['host/opt/cni/bin', 'host/etc/cni/net.d', 'image', 'config']) fs.mkdirSync(path.join(root, d), { recursive: true });
    fs.writeFileSync(path.join(root, 'image/sluice-cni'), '#!/bin/sh\necho sluice-cni\n');
    fs.writeFileSync(path.join(root, 'image/portmap'), '#!/bin/sh\necho portmap\n');
    fs.writeFileSync(path.join(root, 'config/sluice-agent.conf'), edit(config.data['sluice-agent.conf']));
    fs.writeFileSync(path.join(root, 'config/10-sluice.conflist'), config.data['10-sluice.conflist']);
    const env = {
      PATH: process.env.PATH,
      SLUICE_AGENT_CONFIG: path.join(root, 'config/sluice-agent.conf'),
      SLUICE_CNI_CONFLIST: path.join(root, 'config/10-sluice.conflist'),
      HOST_CNI_BIN_DIR: path.join(root, 'host/opt/cni/bin'),
      HOST_CNI_CONF_DIR: path.join(root, 'host/etc/cni/net.d'),
      SLUICE_CNI_BINARY: path.join(root, 'image/sluice-cni'),
      PORTMAP_BINARY: path.join(root, 'image/portmap'),
      MODPROBE: '/bin/false',
    };
    const run = () => spawnSync(installCni, [], { env, encoding: 'utf8' });
    return { root, env, run };
  }
  const netdev = (text) => text.replace(/^ovsDatapathType: .*$/m, 'ovsDatapathType: netdev');

  test('installs the plugin binaries and the conflist atomically, with the right modes', () => {
    const { root, run } = setup(netdev);
    const result = run();
    assert.equal(result.status, 0, result.stderr);
    const bin = path.join(root, 'host/opt/cni/bin');
    const conf = path.join(root, 'host/etc/cni/net.d');
    assert.deepEqual(fs.readdirSync(bin).sort(), ['portmap', 'sluice'], 'no temporary files left behind');
    assert.equal(fs.statSync(path.join(bin, 'sluice')).mode & 0o777, 0o755);
    assert.equal(fs.readFileSync(path.join(bin, 'sluice'), 'utf8'), '#!/bin/sh\necho sluice-cni\n');
    assert.deepEqual(fs.readdirSync(conf), ['10-sluice.conflist']);
    assert.equal(fs.statSync(path.join(conf, '10-sluice.conflist')).mode & 0o777, 0o644);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(conf, '10-sluice.conflist'), 'utf8')), JSON.parse(config.data['10-sluice.conflist']));
    assert.match(result.stderr, /no kernel module needed/);
  });

  test('a second run replaces the files (upgrade)', () => {
    const { root, run } = setup(netdev);
    assert.equal(run().status, 0);
    fs.writeFileSync(path.join(root, 'image/sluice-cni'), 'new version\n');
    assert.equal(run().status, 0);
    assert.equal(fs.readFileSync(path.join(root, 'host/opt/cni/bin/sluice'), 'utf8'), 'new version\n');
  });

  test('warns about another network config that the runtime would pick first', () => {
    const { root, run } = setup(netdev);
    fs.writeFileSync(path.join(root, 'host/etc/cni/net.d/05-other.conflist'), '{}');
    fs.writeFileSync(path.join(root, 'host/etc/cni/net.d/99-later.conflist'), '{}');
    const result = run();
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /05-other\.conflist sorts before 10-sluice\.conflist/);
    assert.doesNotMatch(result.stderr, /99-later/);
  });

  test('the system datapath needs the openvswitch module, and says how to fix it when missing', { skip: fs.existsSync('/sys/module/openvswitch') && 'openvswitch is loaded here' }, () => {
    const { run } = setup();  // the shipped config: system
    const result = run();
    assert.equal(result.status, 1);
    assert.match(result.stderr, /cannot load the openvswitch kernel module; install it on the node, or set ovsDatapathType: netdev in the ConfigMap kube-system\/sluice-config/);
  });

  test('rejects an unknown datapath, naming the file and the choices', () => {
    const { run, env } = setup((text) => text.replace(/^ovsDatapathType: .*$/m, 'ovsDatapathType: "kernel"  # typo'));
    const result = run();
    assert.equal(result.status, 1);
    assert.ok(result.stderr.includes(`ovsDatapathType is "kernel" in ${env.SLUICE_AGENT_CONFIG}; use system or netdev`), result.stderr);
  });

  test('fails clearly when the conflist key is missing from the ConfigMap', () => {
    const { run, env } = setup(netdev);
    fs.rmSync(env.SLUICE_CNI_CONFLIST);
    const result = run();
    assert.equal(result.status, 1);
    assert.match(result.stderr, /needs the key 10-sluice\.conflist/);
  });
});

const isRoot = process.getuid?.() === 0;
const haveOvs = fs.existsSync('/usr/lib/openvswitch-switch/ovs-vswitchd');

describe('start-ovs', { skip: !(isRoot && haveOvs) && 'needs root and openvswitch-switch' }, () => {
  // Starts start-ovs in a new network namespace; returns { child, env, exited }.
  function start(root) {
    const env = { ...process.env, OVS_RUNDIR: path.join(root, 'run'), OVS_DBDIR: path.join(root, 'db'), OVS_MLOCKALL: 'no', NODE_NAME: 'manifest-test-node' };
    const child = spawn('unshare', ['--net', '--', startOvs], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
    return { child, env, exited, stderr: () => stderr };
  }
  const check = (env) => spawnSync(startOvs, ['--check'], { env, encoding: 'utf8' }).status === 0;
  const vsctl = (env, ...args) => spawnSync('ovs-vsctl', [`--db=unix:${env.OVS_RUNDIR}/db.sock`, '--timeout=5', ...args], { encoding: 'utf8' });
  const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
  const pidOf = (env, daemon) => Number(fs.readFileSync(path.join(env.OVS_RUNDIR, `${daemon}.pid`), 'utf8'));
  // Cleanup even when a test fails: stop start-ovs, then any daemon it left, by PID.
  async function stopAll(run, daemons) {
    if (run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill('SIGTERM');
      await Promise.race([run.exited, new Promise((r) => setTimeout(r, 10000).unref())]);
    }
    for (const pid of daemons) if (alive(pid)) process.kill(pid, 'SIGKILL');
  }

  test('runs both daemons, passes its liveness check, stops on SIGTERM, and keeps the database', async () => {
    const root = tempDir();
    const first = start(root);
    let daemons = [];
    try {
      await waitFor(() => check(first.env), 15000, `start-ovs to pass --check (stderr: ${first.stderr()})`);
      daemons = [pidOf(first.env, 'ovsdb-server'), pidOf(first.env, 'ovs-vswitchd')];
      assert.equal(vsctl(first.env, 'get', 'Open_vSwitch', '.', 'external_ids:system-id').stdout.trim(), 'manifest-test-node');
      assert.equal(vsctl(first.env, '--no-wait', 'add-br', 'smtbr0', '--', 'set', 'bridge', 'smtbr0', 'datapath_type=netdev').status, 0);
      first.child.kill('SIGTERM');
      const { code } = await first.exited;
      assert.equal(code, 0, 'SIGTERM is a clean stop');
      await waitFor(() => daemons.every((p) => !alive(p)), 10000, 'both daemons to exit');
      assert.equal(check(first.env), false, '--check fails when OVS is down');
    } finally {
      await stopAll(first, daemons);
    }

    // A restarted container finds the bridges it had: the database is on the host.
    const second = start(root);
    daemons = [];
    try {
      await waitFor(() => check(second.env), 15000, 'the restarted start-ovs');
      daemons = [pidOf(second.env, 'ovsdb-server'), pidOf(second.env, 'ovs-vswitchd')];
      assert.equal(vsctl(second.env, 'br-exists', 'smtbr0').status, 0, 'the bridge survived the restart');
    } finally {
      await stopAll(second, daemons);
    }
  });

  test('exits non-zero when a daemon dies, so the kubelet restarts the container', async () => {
    const root = tempDir();
    const run = start(root);
    let daemons = [];
    try {
      await waitFor(() => check(run.env), 15000, 'start-ovs to start');
      daemons = [pidOf(run.env, 'ovsdb-server'), pidOf(run.env, 'ovs-vswitchd')];
      process.kill(daemons[1], 'SIGKILL');
      const { code, stderr } = await run.exited;
      assert.equal(code, 1);
      assert.match(stderr, /a daemon exited/);
      await waitFor(() => !alive(daemons[0]), 10000, 'ovsdb-server to be stopped too');
    } finally {
      await stopAll(run, daemons);
    }
  });
});
