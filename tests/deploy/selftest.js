// The validator must be able to fail: each broken variant of the rendered manifests below must
// be refused, with the finding named. node selftest.js RENDERED.yaml; exit 1 when one passes.
'use strict';
const { validate, load } = require('./validate');

const find = (docs, kind, name) => docs.find((d) => d.kind === kind && (!name || d.metadata.name === name));
const broken = [
  ['secret mounted 0400 without fsGroup (the pod cannot read its keys)', /not readable by uid 10001/, (d) => {
    const p = find(d, 'Deployment').spec.template.spec;
    delete p.securityContext.fsGroup;
    p.volumes.find((v) => v.secret).secret.defaultMode = 0o400;
  }],
  ['a containerPort that is not an integer (schema)', /containerPort must be integer/, (d) => {
    find(d, 'Deployment').spec.template.spec.containers[0].ports[0].containerPort = 'https';
  }],
  ['an unknown field type in a Service (schema)', /must be array/, (d) => {
    find(d, 'Service').spec.ports = 'https';
  }],
  ['no readiness probe', /no readinessProbe/, (d) => {
    delete find(d, 'Deployment').spec.template.spec.containers[0].readinessProbe;
  }],
  ['a writable root filesystem', /root filesystem not read-only/, (d) => {
    find(d, 'Job').spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem = false;
  }],
  ['no backup section', /no backup.barmanObjectStore/, (d) => {
    delete find(d, 'Cluster').spec.backup;
  }],
  ['a retention policy CloudNativePG refuses', /retentionPolicy/, (d) => {
    find(d, 'Cluster').spec.backup.retentionPolicy = '30 days';
  }],
  ['parameters logged', /would be logged/, (d) => {
    delete find(d, 'Cluster').spec.postgresql.parameters.log_parameter_max_length;
  }],
  ['named prepared statements behind the transaction pooler', /CUSTOS_DB_PREPARED/, (d) => {
    find(d, 'ConfigMap', 'custos-config').data.CUSTOS_DB_PREPARED = '1';
  }],
  ['a pool mode PgBouncer does not have', /poolMode/, (d) => {
    find(d, 'Pooler').spec.pgbouncer.poolMode = 'statement-ish';
  }],
  ['no NetworkPolicy', /no NetworkPolicy/, (d) => {
    d.splice(d.findIndex((x) => x.kind === 'NetworkPolicy'), 1);
  }],
  ['an HPA aimed at another Deployment', /no HorizontalPodAutoscaler scales it/, (d) => {
    find(d, 'HorizontalPodAutoscaler').spec.scaleTargetRef.name = 'other';
  }],
  ['a kind nobody knows', /unknown kind/, (d) => {
    d.push({ apiVersion: 'example.com/v1', kind: 'Gadget', metadata: { name: 'g' } });
  }],
];

const path = process.argv[2];
let passed = 0;
let failed = 0;
if (validate(load(path)).length !== 0) {
  console.error('selftest: the manifests as rendered do not validate; fix them first');
  process.exit(1);
}
for (const [what, expect, mutate] of broken) {
  const docs = load(path);
  mutate(docs);
  const findings = validate(docs);
  if (findings.some((x) => expect.test(x))) {
    passed++;
    console.log(`ok: refused ${what}`);
  } else {
    failed++;
    console.error(`FAILED: accepted ${what}: ${JSON.stringify(findings)}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
