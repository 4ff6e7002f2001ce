// Offline validation of the rendered Kubernetes manifests (deploy/k8s through kustomize):
// every core object against its kubernetes-models schema, the CloudNativePG objects against the
// fields Custos relies on (no model package exists for them), then Custos's own rules: the pods
// can read their secrets, run confined, have probes and resources, and reach PostgreSQL through
// a transaction-mode pooler with unnamed statements.
//   node validate.js RENDERED.yaml           prints each finding; exit 1 when there is one
//   require('./validate').validate(docs)      returns the list of findings
'use strict';
const fs = require('fs');
const yaml = require('js-yaml');

// apiVersion ("apps/v1", "v1") -> its kubernetes-models module
const modelModule = (apiVersion) => `kubernetes-models/${apiVersion}`;

function schemaFindings(doc, where) {
  if (!doc || typeof doc !== 'object' || !doc.apiVersion || !doc.kind) {
    return [`${where}: not a Kubernetes object (apiVersion and kind)`];
  }
  if (doc.apiVersion.startsWith('postgresql.cnpg.io/')) {
    return cnpgFindings(doc, where);
  }
  let Model;
  try {
    Model = require(modelModule(doc.apiVersion))[doc.kind];
  } catch (e) {
    Model = undefined;
  }
  if (!Model) {
    return [`${where}: unknown kind ${doc.apiVersion} ${doc.kind}`];
  }
  try {
    new Model(doc).validate();
  } catch (e) {
    return [`${where}: ${e.message}`];
  }
  return [];
}

const isStr = (v) => typeof v === 'string' && v.length > 0;
const isInt = (v) => Number.isInteger(v);

// CloudNativePG v1: the fields this deployment sets, with the CRD's types and enums.
function cnpgFindings(doc, where) {
  const f = [];
  const s = doc.spec || {};
  if (doc.apiVersion !== 'postgresql.cnpg.io/v1') f.push(`${where}: apiVersion ${doc.apiVersion}`);
  if (!isStr(doc.metadata && doc.metadata.name)) f.push(`${where}: metadata.name missing`);
  switch (doc.kind) {
    case 'Cluster': {
      if (!isInt(s.instances) || s.instances < 1) f.push(`${where}: spec.instances must be an integer >= 1`);
      if (s.instances < 2) f.push(`${where}: one instance is no HA`);
      const p = (s.postgresql && s.postgresql.parameters) || {};
      for (const k of Object.keys(p)) {
        if (typeof p[k] !== 'string') f.push(`${where}: postgresql.parameters.${k} must be a string`);
      }
      if (p.log_parameter_max_length !== '0' || p.log_parameter_max_length_on_error !== '0') {
        f.push(`${where}: statement parameters (personal data) would be logged`);
      }
      const b = s.backup || {};
      const os = b.barmanObjectStore;
      if (!os) {
        f.push(`${where}: no backup.barmanObjectStore (no backups, no WAL archiving)`);
      } else {
        if (!isStr(os.destinationPath)) f.push(`${where}: backup.barmanObjectStore.destinationPath missing`);
        if (!os.wal) f.push(`${where}: backup.barmanObjectStore.wal missing (WAL archiving settings)`);
        const creds = os.s3Credentials || os.azureCredentials || os.googleCredentials;
        if (!creds) f.push(`${where}: backup.barmanObjectStore has no credentials`);
      }
      if (!/^[1-9][0-9]*[dwm]$/.test(b.retentionPolicy || '')) {
        f.push(`${where}: backup.retentionPolicy must match ^[1-9][0-9]*[dwm]$`);
      }
      if (!(s.storage && isStr(s.storage.size))) f.push(`${where}: spec.storage.size missing`);
      break;
    }
    case 'Pooler': {
      if (!(s.cluster && isStr(s.cluster.name))) f.push(`${where}: spec.cluster.name missing`);
      if (!['rw', 'ro', 'r'].includes(s.type)) f.push(`${where}: spec.type must be rw, ro or r`);
      if (!isInt(s.instances)) f.push(`${where}: spec.instances must be an integer`);
      const pm = s.pgbouncer && s.pgbouncer.poolMode;
      if (!['session', 'transaction'].includes(pm)) f.push(`${where}: pgbouncer.poolMode must be session or transaction`);
      break;
    }
    case 'ScheduledBackup': {
      if (!(s.cluster && isStr(s.cluster.name))) f.push(`${where}: spec.cluster.name missing`);
      if (!isStr(s.schedule) || s.schedule.trim().split(/\s+/).length !== 6) {
        f.push(`${where}: spec.schedule must be a six-field cron expression (seconds first)`);
      }
      break;
    }
    default:
      f.push(`${where}: unknown kind ${doc.apiVersion} ${doc.kind}`);
  }
  return f;
}

const byKind = (docs, kind) => docs.filter((d) => d && d.kind === kind);
const matches = (selector, labels) =>
  Object.entries(selector || {}).every(([k, v]) => (labels || {})[k] === v);

// The pod of a Deployment or Job: confined, and able to read every Secret it mounts.
function podFindings(where, tmpl) {
  const f = [];
  const spec = (tmpl && tmpl.spec) || {};
  const psc = spec.securityContext || {};
  if (psc.runAsUser !== 10001 || psc.runAsNonRoot !== true) f.push(`${where}: must run as uid 10001, non-root`);
  for (const v of spec.volumes || []) {
    if (!v.secret) continue;
    const mode = v.secret.defaultMode === undefined ? 0o644 : v.secret.defaultMode;
    const byGroup = psc.fsGroup !== undefined && (mode & 0o040) !== 0 &&
      (psc.fsGroup === psc.runAsGroup || psc.fsGroup === 10001);
    const byOther = (mode & 0o004) !== 0;
    // the files belong to root: the owner bits never help uid 10001
    if (!(byGroup || byOther)) {
      f.push(`${where}: secret volume ${v.name} (mode 0${mode.toString(8)}, fsGroup ${psc.fsGroup}) is not readable by uid 10001`);
    }
    if (byOther) f.push(`${where}: secret volume ${v.name} is world-readable (use fsGroup and 0440)`);
  }
  for (const c of spec.containers || []) {
    const sc = c.securityContext || {};
    if (sc.readOnlyRootFilesystem !== true) f.push(`${where}/${c.name}: root filesystem not read-only`);
    if (sc.allowPrivilegeEscalation !== false) f.push(`${where}/${c.name}: privilege escalation allowed`);
    if (!(sc.capabilities && (sc.capabilities.drop || []).includes('ALL'))) f.push(`${where}/${c.name}: capabilities not all dropped`);
    const r = c.resources || {};
    if (!(r.requests && r.requests.cpu && r.requests.memory && r.limits && r.limits.memory)) {
      f.push(`${where}/${c.name}: resources need cpu and memory requests and a memory limit`);
    }
  }
  return f;
}

function validate(docs) {
  const f = [];
  docs.forEach((d, i) => {
    f.push(...schemaFindings(d, `#${i} ${d && d.kind}/${d && d.metadata && d.metadata.name}`));
  });
  const need = ['Namespace', 'ConfigMap', 'Deployment', 'Service', 'HorizontalPodAutoscaler',
    'PodDisruptionBudget', 'NetworkPolicy', 'Job', 'Cluster', 'ScheduledBackup', 'Pooler'];
  for (const k of need) {
    if (byKind(docs, k).length === 0) f.push(`no ${k}`);
  }
  const deps = byKind(docs, 'Deployment');
  for (const d of deps) {
    const where = `Deployment/${d.metadata.name}`;
    const tmpl = d.spec.template;
    f.push(...podFindings(where, tmpl));
    for (const c of tmpl.spec.containers) {
      if (!c.readinessProbe) f.push(`${where}/${c.name}: no readinessProbe`);
      if (!c.livenessProbe) f.push(`${where}/${c.name}: no livenessProbe`);
    }
    const labels = tmpl.metadata.labels;
    for (const kind of ['Service', 'PodDisruptionBudget', 'NetworkPolicy']) {
      const sel = (o) => (kind === 'Service' ? o.spec.selector : o.spec.podSelector ? o.spec.podSelector.matchLabels : o.spec.selector.matchLabels);
      if (!byKind(docs, kind).some((o) => matches(sel(o), labels))) f.push(`${where}: no ${kind} selects its pods`);
    }
    if (!byKind(docs, 'HorizontalPodAutoscaler').some((h) => h.spec.scaleTargetRef.kind === 'Deployment' && h.spec.scaleTargetRef.name === d.metadata.name)) {
      f.push(`${where}: no HorizontalPodAutoscaler scales it`);
    }
  }
  for (const j of byKind(docs, 'Job')) {
    f.push(...podFindings(`Job/${j.metadata.name}`, j.spec.template));
    if (!byKind(docs, 'NetworkPolicy').some((o) => matches(o.spec.podSelector.matchLabels, j.spec.template.metadata && j.spec.template.metadata.labels))) {
      f.push(`Job/${j.metadata.name}: no NetworkPolicy selects its pods`);
    }
  }
  // the service's database URL: through a transaction-mode pooler only with unnamed statements
  const poolers = byKind(docs, 'Pooler');
  for (const cm of byKind(docs, 'ConfigMap')) {
    const url = (cm.data || {}).CUSTOS_DATABASE_URL;
    if (!url) continue;
    const host = (/host=(\S+)/.exec(url) || [])[1];
    const p = poolers.find((x) => x.metadata.name === host);
    if (p && p.spec.pgbouncer.poolMode === 'transaction' && cm.data.CUSTOS_DB_PREPARED !== '0') {
      f.push(`ConfigMap/${cm.metadata.name}: CUSTOS_DATABASE_URL goes through a transaction-mode pooler but CUSTOS_DB_PREPARED is not "0"`);
    }
    if (!p) f.push(`ConfigMap/${cm.metadata.name}: CUSTOS_DATABASE_URL host ${host} is not the Pooler`);
  }
  return f;
}

function load(path) {
  return yaml.loadAll(fs.readFileSync(path, 'utf8')).filter((d) => d !== null && d !== undefined);
}

module.exports = { validate, load };

if (require.main === module) {
  const docs = load(process.argv[2]);
  const findings = validate(docs);
  for (const x of findings) console.error(`validate: ${x}`);
  console.log(`${docs.length} objects, ${findings.length} findings`);
  process.exit(findings.length === 0 ? 0 : 1);
}
