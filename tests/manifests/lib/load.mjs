// Paths of the repository and YAML loading shared by the manifest tests.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export function repoPath(...parts) {
  return path.join(repoRoot, ...parts);
}

// Every non-empty document of a YAML file as plain objects, aliases expanded (as kubectl does).
// Throws on YAML errors and warnings, naming the file.
export function loadDocuments(file) {
  const text = fs.readFileSync(file, 'utf8');
  return parseDocuments(text, file);
}

export function parseDocuments(text, name = '<string>') {
  const docs = YAML.parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
  const objects = [];
  for (const doc of docs) {
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length) throw new Error(`${name}: ${problems.map((p) => p.message).join('; ')}`);
    const value = doc.toJS({ maxAliasCount: -1 });
    if (value !== null && value !== undefined) objects.push(value);
  }
  return objects;
}

export function loadCrds() {
  const crds = loadDocuments(repoPath('manifests/crds.yml'));
  const byName = Object.fromEntries(crds.map((c) => [c.metadata.name, c]));
  return { crds, egress: byName['egresses.crd.antrea.io'], pool: byName['externalippools.crd.antrea.io'] };
}
