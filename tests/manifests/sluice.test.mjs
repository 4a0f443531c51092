// Tests manifests/sluice.yml, the one-step install: it is generated from its parts, every object
// passes the upstream Kubernetes schema (kubernetes-models) with no unknown fields, and the
// objects fit together: names, ports, volumes, config keys, least-privilege RBAC and
// capabilities, timing invariants, and the image the Containerfile builds.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import YAML from 'yaml';
import { loadDocuments, loadCrds, repoPath } from './lib/load.mjs';
import { unknownFields } from './lib/strict_fields.mjs';

const require = createRequire(import.meta.url);
const objects = loadDocuments(repoPath('manifests/sluice.yml'));
const find = (kind, name) => objects.find((o) => o.kind === kind && o.metadata.name === name);
const ofKind = (kind) => objects.filter((o) => o.kind === kind);
const namespace = 'kube-system';
const controller = find('Deployment', 'sluice-controller');
const agent = find('DaemonSet', 'sluice-agent');
const config = find('ConfigMap', 'sluice-config');
const workloads = [controller, agent];
const podSpecs = workloads.map((w) => w.spec.template.spec);
const allContainers = (spec) => [...(spec.initContainers || []), ...spec.containers];

// "4s" / "500ms" / "1m" to milliseconds; throws on anything else so a typo fails the test.
function durationMs(text, where) {
  const m = String(text).match(/^(\d+)(ms|s|m)$/);
  if (!m) throw new Error(`${where}: "${text}" is not a duration such as 500ms, 4s or 1m`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60000 }[m[2]];
}

function modelClass(apiVersion, kind) {
  const module = apiVersion.includes('/') ? `kubernetes-models/${apiVersion}` : 'kubernetes-models/v1';
  const cls = require(module)[kind];
  if (!cls) throw new Error(`kubernetes-models has no ${apiVersion} ${kind}`);
  return cls;
}

describe('sluice.yml as a whole', () => {
  test('is up to date with crds.yml and parts/ (manifests/gen.sh --check)', () => {
    const run = spawnSync(repoPath('manifests/gen.sh'), ['--check'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
  });

  test('holds the CRDs of crds.yml unchanged', () => {
    const { crds } = loadCrds();
    assert.deepEqual(ofKind('CustomResourceDefinition'), crds);
  });

  test('holds every piece the design names', () => {
    const names = objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    assert.deepEqual(names, [
      'ClusterRole/sluice-agent', 'ClusterRole/sluice-controller',
      'ClusterRoleBinding/sluice-agent', 'ClusterRoleBinding/sluice-controller',
      'ConfigMap/sluice-config',
      'CustomResourceDefinition/egresses.crd.antrea.io', 'CustomResourceDefinition/externalippools.crd.antrea.io',
      'DaemonSet/sluice-agent', 'Deployment/sluice-controller',
      'Role/sluice-controller-leader-election', 'RoleBinding/sluice-controller-leader-election',
      'Service/sluice-controller', 'Service/sluice-controller-replicas',
      'ServiceAccount/sluice-agent', 'ServiceAccount/sluice-controller',
    ]);
  });

  for (const object of objects) {
    const id = `${object.kind}/${object.metadata.name}`;
    test(`${id} passes the upstream ${object.apiVersion} ${object.kind} schema`, () => {
      const Model = modelClass(object.apiVersion, object.kind);
      assert.doesNotThrow(() => new Model(object).validate());
    });
    test(`${id} has no unknown fields (kubectl's strict field validation)`, () => {
      assert.deepEqual(unknownFields(object), []);
    });
  }

  test('the unknown-field check catches a misspelt field', () => {
    const broken = structuredClone(agent);
    broken.spec.template.spec.containers[1].volumeMounts[0].mountPropagaton = 'HostToContainer';
    assert.deepEqual(unknownFields(broken), ['spec.template.spec.containers[1].volumeMounts[0].mountPropagaton: unknown field']);
  });

  test('the schema check catches a wrong type', () => {
    const broken = structuredClone(controller);
    broken.spec.replicas = 'two';
    assert.throws(() => new (modelClass('apps/v1', 'Deployment'))(broken).validate(), /replicas/);
  });

  test('namespaced objects are all in kube-system; cluster-scoped ones have no namespace', () => {
    const clusterScoped = new Set(['CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'Namespace']);
    for (const o of objects) {
      if (clusterScoped.has(o.kind)) assert.equal(o.metadata.namespace, undefined, `${o.kind}/${o.metadata.name}`);
      else assert.equal(o.metadata.namespace, namespace, `${o.kind}/${o.metadata.name}`);
    }
  });

  test('every object carries app.kubernetes.io/name=sluice (for kubectl get -l / cleanup)', () => {
    for (const o of objects) assert.equal(o.metadata.labels?.['app.kubernetes.io/name'], 'sluice', `${o.kind}/${o.metadata.name}`);
  });
});

describe('RBAC', () => {
  // The complete grant of each component. A new permission must be added here on purpose, and
  // justified by a comment in manifests/parts/10-rbac.yml.
  const flatten = (rules) => rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) =>
    `${g || 'core'}/${res}${r.resourceNames ? `[${r.resourceNames.join(',')}]` : ''}:${v}`)))).sort();

  test('sluice-controller has exactly its documented permissions', () => {
    assert.deepEqual(flatten(find('ClusterRole', 'sluice-controller').rules), [
      'authentication.k8s.io/tokenreviews:create',
      'core/events:create', 'core/events:patch',
      'core/nodes:list', 'core/nodes:watch',
      'crd.antrea.io/egresses/status:patch',
      'crd.antrea.io/egresses:get', 'crd.antrea.io/egresses:list', 'crd.antrea.io/egresses:watch',
      'crd.antrea.io/externalippools/status:patch',
      'crd.antrea.io/externalippools:list', 'crd.antrea.io/externalippools:watch',
      'networking.k8s.io/servicecidrs:get', 'networking.k8s.io/servicecidrs:list',
    ]);
    assert.deepEqual(flatten(find('Role', 'sluice-controller-leader-election').rules), [
      'coordination.k8s.io/leases:create',
      'coordination.k8s.io/leases[sluice-controller]:get', 'coordination.k8s.io/leases[sluice-controller]:update',
    ]);
  });

  test('sluice-agent has exactly its documented, read-mostly permissions', () => {
    assert.deepEqual(flatten(find('ClusterRole', 'sluice-agent').rules), [
      'core/events:create', 'core/events:patch',
      'core/namespaces:list', 'core/namespaces:watch',
      'core/nodes:get', 'core/nodes:list', 'core/nodes:watch',
      'core/pods:get', 'core/pods:list', 'core/pods:watch',
      'core/services:list', 'core/services:watch',
      'crd.antrea.io/egresses:get', 'crd.antrea.io/egresses:list', 'crd.antrea.io/egresses:watch',
      'crd.antrea.io/externalippools:list',
      'discovery.k8s.io/endpointslices:list', 'discovery.k8s.io/endpointslices:watch',
      'networking.k8s.io/servicecidrs:get', 'networking.k8s.io/servicecidrs:list',
    ]);
  });

  test('no wildcards, and the leader-election Lease name matches the controller config', () => {
    for (const role of [...ofKind('ClusterRole'), ...ofKind('Role')]) {
      for (const rule of role.rules) {
        for (const list of [rule.apiGroups, rule.resources, rule.verbs]) assert.ok(!list.includes('*'), `${role.metadata.name} uses *`);
      }
    }
    const controllerConfig = YAML.parse(config.data['sluice-controller.conf']);
    const leaseRule = find('Role', 'sluice-controller-leader-election').rules.find((r) => r.resourceNames);
    assert.deepEqual(leaseRule.resourceNames, [controllerConfig.leaderElection.leaseName]);
  });

  test('every rule has a comment saying why', () => {
    const docs = YAML.parseAllDocuments(fs.readFileSync(repoPath('manifests/parts/10-rbac.yml'), 'utf8'));
    let checked = 0;
    for (const doc of docs) {
      if (!['ClusterRole', 'Role'].includes(doc.get('kind'))) continue;
      const rules = doc.get('rules');
      rules.items.forEach((rule, i) => {
        // The yaml parser hangs the first item's comment on the list itself.
        const comment = i === 0 ? rule.commentBefore || rules.commentBefore : rule.commentBefore;
        assert.ok(comment?.trim(), `${doc.get('kind')} ${doc.getIn(['metadata', 'name'])} rule ${i} has no comment`);
        checked++;
      });
    }
    assert.ok(checked >= 10, `only ${checked} rules found`);
  });

  test('bindings point at roles and service accounts that exist, and workloads use those accounts', () => {
    for (const binding of [...ofKind('ClusterRoleBinding'), ...ofKind('RoleBinding')]) {
      assert.ok(find(binding.roleRef.kind, binding.roleRef.name), `${binding.metadata.name}: no ${binding.roleRef.kind} ${binding.roleRef.name}`);
      for (const s of binding.subjects) {
        assert.equal(s.kind, 'ServiceAccount');
        assert.equal(s.namespace, namespace);
        assert.ok(find('ServiceAccount', s.name), `${binding.metadata.name}: no ServiceAccount ${s.name}`);
      }
    }
    assert.equal(controller.spec.template.spec.serviceAccountName, 'sluice-controller');
    assert.equal(agent.spec.template.spec.serviceAccountName, 'sluice-agent');
  });
});

describe('workloads', () => {
  test('selectors match their pod templates, and the Service reaches the controller port', () => {
    for (const w of workloads) {
      for (const [k, v] of Object.entries(w.spec.selector.matchLabels)) assert.equal(w.spec.template.metadata.labels[k], v, w.metadata.name);
    }
    const service = find('Service', 'sluice-controller');
    for (const [k, v] of Object.entries(service.spec.selector)) assert.equal(controller.spec.template.metadata.labels[k], v);
    const ports = controller.spec.template.spec.containers[0].ports;
    for (const p of service.spec.ports) assert.ok(ports.some((c) => c.name === p.targetPort), `Service targetPort ${p.targetPort}`);
    // The Deployment and the DaemonSet must not select each other's pods.
    assert.notDeepEqual(controller.spec.selector.matchLabels, agent.spec.selector.matchLabels);
  });

  test('the controller: 2 replicas, readiness /readyz and liveness /healthz on a named port', () => {
    assert.equal(controller.spec.replicas, 2);
    const c = controller.spec.template.spec.containers[0];
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.ok(c.ports.some((p) => p.name === c.readinessProbe.httpGet.port));
    const controllerConfig = YAML.parse(config.data['sluice-controller.conf']);
    assert.equal(Number(controllerConfig.listenAddress.split(':').pop()), c.ports.find((p) => p.name === 'http').containerPort);
    assert.equal(controllerConfig.leaderElection.enabled, true, 'two replicas need leader election');
  });

  test('the agent: readiness /readyz and liveness /healthz on the port of listenAddress', () => {
    const c = agent.spec.template.spec.containers.find((x) => x.name === 'sluice-agent');
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    const agentConfig = YAML.parse(config.data['sluice-agent.conf']);
    assert.equal(Number(agentConfig.listenAddress.split(':').pop()), c.ports.find((p) => p.name === c.readinessProbe.httpGet.port).containerPort);
  });

  test('probes use ports their container declares', () => {
    for (const spec of podSpecs) {
      for (const c of allContainers(spec)) {
        for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe].filter(Boolean)) {
          if (probe.httpGet) assert.ok((c.ports || []).some((p) => p.name === probe.httpGet.port || p.containerPort === probe.httpGet.port), `${c.name}: probe port ${probe.httpGet.port}`);
        }
      }
    }
  });

  test('every volumeMount names a volume, every volume is used, ConfigMap volumes exist', () => {
    for (const spec of podSpecs) {
      const volumes = new Set(spec.volumes.map((v) => v.name));
      const used = new Set();
      for (const c of allContainers(spec)) {
        for (const m of c.volumeMounts || []) {
          assert.ok(volumes.has(m.name), `${c.name} mounts unknown volume ${m.name}`);
          used.add(m.name);
        }
      }
      for (const v of spec.volumes) {
        assert.ok(used.has(v.name), `volume ${v.name} is not mounted`);
        if (v.configMap) assert.ok(find('ConfigMap', v.configMap.name), `no ConfigMap ${v.configMap.name}`);
      }
    }
  });

  test('config file paths in commands and environment name keys of the ConfigMap at /etc/sluice', () => {
    const keys = new Set(Object.keys(config.data));
    let references = 0;
    for (const spec of podSpecs) {
      for (const c of allContainers(spec)) {
        const texts = [...(c.args || []), ...(c.command || []), ...(c.env || []).map((e) => e.value || '')];
        for (const t of texts) {
          for (const [, key] of t.matchAll(/\/etc\/sluice\/([\w.-]+)/g)) {
            assert.ok(keys.has(key), `${c.name} refers to /etc/sluice/${key}, which the ConfigMap lacks`);
            assert.ok((c.volumeMounts || []).some((m) => m.mountPath === '/etc/sluice' && m.name === 'config'), `${c.name} does not mount the config`);
            references++;
          }
        }
      }
    }
    assert.ok(references >= 4, `only ${references} config references found`);
  });

  test('one image everywhere, tagged with the version in meson.build', () => {
    const version = fs.readFileSync(repoPath('meson.build'), 'utf8').match(/version:\s*'([^']+)'/)[1];
    const images = new Set(podSpecs.flatMap((s) => allContainers(s).map((c) => c.image)));
    assert.deepEqual([...images], [`localhost/sluice:${version}`]);
  });

  test('the agent DaemonSet runs on every node, first, on the host network', () => {
    const spec = agent.spec.template.spec;
    assert.equal(spec.hostNetwork, true);
    assert.equal(spec.dnsPolicy, 'ClusterFirstWithHostNet');
    assert.equal(spec.priorityClassName, 'system-node-critical');
    assert.ok(spec.tolerations.some((t) => t.operator === 'Exists' && !t.key && !t.effect), 'needs a toleration of every taint');
    assert.deepEqual(spec.initContainers.map((c) => c.name), ['install-cni']);
    assert.deepEqual(spec.containers.map((c) => c.name), ['ovs', 'sluice-agent']);
  });

  test('the agent pod mounts exactly the host paths the design needs, with the right propagation', () => {
    const spec = agent.spec.template.spec;
    const hostPaths = Object.fromEntries(spec.volumes.filter((v) => v.hostPath).map((v) => [v.name, v.hostPath.path]));
    assert.deepEqual(Object.values(hostPaths).sort(), [
      '/etc/cni/net.d', '/lib/modules', '/opt/cni/bin', '/var/lib/sluice', '/var/run/netns', '/var/run/openvswitch', '/var/run/sluice',
    ]);
    const mountsOf = (name) => allContainers(spec).flatMap((c) => (c.volumeMounts || []).filter((m) => hostPaths[m.name]).map((m) => ({ container: c.name, path: hostPaths[m.name], ...m })));
    // Kernel modules: read-only, and only in the init container that loads them.
    for (const m of mountsOf().filter((x) => x.path === '/lib/modules')) {
      assert.equal(m.container, 'install-cni');
      assert.equal(m.readOnly, true);
    }
    // Pod network namespaces appear after the agent starts: they must propagate into it.
    const netns = mountsOf().filter((x) => x.path === '/var/run/netns');
    assert.deepEqual(netns.map((m) => [m.container, m.mountPropagation]), [['sluice-agent', 'HostToContainer']]);
    // The OVS sockets are shared between the ovs and agent containers through the host.
    assert.deepEqual(mountsOf().filter((x) => x.path === '/var/run/openvswitch').map((m) => m.container).sort(), ['ovs', 'sluice-agent']);
  });
});

describe('container security', () => {
  // What each container may do beyond an unprivileged process. A new capability must be added
  // here on purpose, and justified by a comment next to it in the manifest.
  const expectedCapabilities = {
    'sluice-controller': [],
    'install-cni': ['SYS_MODULE'],
    ovs: ['IPC_LOCK', 'NET_ADMIN', 'NET_RAW'],
    'sluice-agent': ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN'],
  };

  for (const spec of podSpecs) {
    for (const c of allContainers(spec)) {
      test(`${c.name}: drops ALL, adds only ${JSON.stringify(expectedCapabilities[c.name])}, never privileged`, () => {
        const sc = c.securityContext;
        assert.ok(sc, 'no securityContext');
        assert.notEqual(sc.privileged, true);
        assert.deepEqual(sc.capabilities.drop, ['ALL']);
        assert.deepEqual([...(sc.capabilities.add || [])].sort(), expectedCapabilities[c.name]);
        assert.equal(sc.readOnlyRootFilesystem, true);
        // The API server rejects allowPrivilegeEscalation=false with SYS_ADMIN or privileged;
        // everywhere else it must be false.
        if ((sc.capabilities.add || []).includes('SYS_ADMIN')) assert.notEqual(sc.allowPrivilegeEscalation, false);
        else assert.equal(sc.allowPrivilegeEscalation, false);
      });
    }
    test(`${spec.serviceAccountName} pod uses the RuntimeDefault seccomp profile`, () => {
      assert.equal(spec.securityContext.seccompProfile.type, 'RuntimeDefault');
    });
  }

  test('the controller runs as a non-root user', () => {
    const spec = controller.spec.template.spec;
    assert.equal(spec.securityContext.runAsNonRoot, true);
    assert.ok(spec.securityContext.runAsUser > 0);
  });

  test('capabilities in the manifest each have a comment saying why', () => {
    const text = fs.readFileSync(repoPath('manifests/parts/40-agent.yml'), 'utf8');
    for (const cap of new Set(Object.values(expectedCapabilities).flat())) {
      assert.match(text, new RegExp(`#[^\\n]*\\b${cap}\\b:`), `no "# ${cap}: why" comment`);
    }
  });
});

describe('configuration', () => {
  const agentConfig = YAML.parse(config.data['sluice-agent.conf']);
  const controllerConfig = YAML.parse(config.data['sluice-controller.conf']);

  test('the agent config has the documented keys and values', () => {
    assert.ok(['system', 'netdev'].includes(agentConfig.ovsDatapathType));
    assert.equal(agentConfig.tunnelType, 'geneve');
    assert.equal(agentConfig.tunnelPort, 6081);
    assert.ok(agentConfig.mtu === 'auto' || (Number.isInteger(agentConfig.mtu) && agentConfig.mtu >= 1280));
    assert.equal(agentConfig.controllerService, find('Service', 'sluice-controller').metadata.name);
  });

  test('agents report to every controller replica and probe their peers on a declared port', () => {
    const replicas = find('Service', 'sluice-controller-replicas');
    assert.equal(replicas.spec.clusterIP, 'None');
    const [host, port] = agentConfig.controllerAddress.split(':');
    assert.equal(host, `${replicas.metadata.name}.${replicas.metadata.namespace}.svc`);
    assert.equal(Number(port), replicas.spec.ports[0].port);
    const agent = find('DaemonSet', 'sluice-agent');
    assert.equal(agent.spec.template.spec.dnsPolicy, 'ClusterFirstWithHostNet');
    const probes = agent.spec.template.spec.containers.find((c) => c.name === 'sluice-agent').ports
      .find((p) => p.protocol === 'UDP');
    assert.equal(probes.containerPort, agentConfig.peerProbePort);
    assert.equal(probes.hostPort, agentConfig.peerProbePort);
  });

  test('fencing: an agent drops its egress IPs before the controller moves them', () => {
    const fencing = durationMs(agentConfig.fencingTimeout, 'fencingTimeout');
    const report = durationMs(agentConfig.reportInterval, 'reportInterval');
    const silence = durationMs(controllerConfig.nodeSilenceTimeout, 'nodeSilenceTimeout');
    assert.ok(report < fencing, 'a single lost report must not fence a node');
    assert.ok(fencing + report < silence, `fencingTimeout ${fencing} ms + reportInterval ${report} ms must be below nodeSilenceTimeout ${silence} ms`);
  });

  test('leader election timings are consistent', () => {
    const le = controllerConfig.leaderElection;
    const [lease, renew, retry] = [le.leaseDuration, le.renewDeadline, le.retryPeriod].map((d) => durationMs(d, 'leaderElection'));
    assert.ok(retry < renew && renew < lease, `need retryPeriod < renewDeadline < leaseDuration, got ${retry}/${renew}/${lease} ms`);
  });

  test('the conflist is CNI 1.0 JSON whose sluice plugin uses the agent socket, shared through the host', () => {
    const conflist = JSON.parse(config.data['10-sluice.conflist']);
    assert.equal(conflist.cniVersion, '1.0.0');
    assert.equal(conflist.name, 'sluice');
    assert.equal(conflist.plugins[0].type, 'sluice');
    assert.equal(conflist.plugins[0].agentSocket, agentConfig.cniSocket);
    const agentContainer = agent.spec.template.spec.containers.find((c) => c.name === 'sluice-agent');
    const socketDir = agentConfig.cniSocket.slice(0, agentConfig.cniSocket.lastIndexOf('/'));
    const mount = agentContainer.volumeMounts.find((m) => m.mountPath === socketDir);
    assert.ok(mount, `the agent does not mount ${socketDir}`);
    const volume = agent.spec.template.spec.volumes.find((v) => v.name === mount.name);
    assert.equal(volume.hostPath?.path, socketDir, 'sluice-cni runs on the host: the socket must be at the same host path');
  });
});

describe('Containerfile', () => {
  const text = fs.readFileSync(repoPath('Containerfile'), 'utf8');

  test('builds on Debian 12 in two stages and installs what the containers run', () => {
    const froms = [...text.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    assert.equal(froms.length, 2);
    for (const f of froms) assert.match(f, /debian:12/);
    for (const pkg of ['openvswitch-switch', 'iproute2', 'nftables', 'kmod', 'containernetworking-plugins']) assert.match(text, new RegExp(`\\b${pkg}\\b`));
    assert.match(text, /meson install/);
  });

  test('every command the manifest runs is installed by the image', () => {
    const copied = new Set([...text.matchAll(/^COPY (?!--from)(.+) (\/usr\/local\/lib\/sluice\/)$/gm)].flatMap((m) => m[1].split(/\s+/).map((f) => `${m[2]}${f.split('/').pop()}`)));
    const mesonBinaries = [...text.matchAll(/for b in ([\w\s/-]+); do/g)][0][1].trim().split(/\s+/).map((b) => `/usr/local/${b}`);
    const installed = new Set([...copied, ...mesonBinaries]);
    for (const spec of podSpecs) {
      for (const c of allContainers(spec)) assert.ok(installed.has(c.command[0]), `${c.name} runs ${c.command[0]}, which the Containerfile does not install`);
    }
    for (const f of copied) assert.ok(fs.existsSync(repoPath('container', f.split('/').pop())), `${f} has no source in container/`);
    // install-cni copies sluice-cni from where meson installs it.
    const cniDefault = fs.readFileSync(repoPath('container/install-cni'), 'utf8').match(/SLUICE_CNI_BINARY:-([^}]+)\}/)[1];
    assert.ok(installed.has(cniDefault), `install-cni expects ${cniDefault}, which the Containerfile does not check for`);
  });

  test('meson installs sluice-cni where the Containerfile and install-cni expect it', () => {
    const cniBuild = fs.readFileSync(repoPath('src/cni/meson.build'), 'utf8');
    assert.match(cniBuild, /executable\('sluice-cni'[\s\S]*install: true[\s\S]*install_dir: get_option\('libexecdir'\) \/ 'cni'/);
  });

  test('.containerignore keeps build trees and node_modules out of the context', () => {
    const ignore = fs.readFileSync(repoPath('.containerignore'), 'utf8');
    for (const p of ['build', 'build-*', '**/node_modules', '.git']) assert.match(ignore, new RegExp(`^${p.replace(/[*.]/g, '\\$&')}$`, 'm'));
  });
});
