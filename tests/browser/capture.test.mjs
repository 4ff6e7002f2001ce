// The secure capture page in a real browser (issue 12 item 6): Debian's chromium, driven by
// playwright-core, opens a capture link, checks the security headers, submits an invalid card
// (the error is announced and the value never echoed), then a valid one (a confirmation without
// the value; the agent's app sees the token, which reveals the value), then meets the 410 of a
// used link. Saves screenshots under build/browser/ (gitignored).
// Run by `make test-browser` (scripts/test.sh with BROWSER=1), which starts PostgreSQL and the
// server and sets CUSTOS_TEST_URL, CUSTOS_TEST_IDP, CUSTOS_JWT_ISSUER/AUDIENCE and
// CUSTOS_TEST_MKJWT. Exits non-zero on the first failed check.
import { chromium, request } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run make test-browser)`);
  return v;
};
const base = env('CUSTOS_TEST_URL');
const shots = process.env.CUSTOS_BROWSER_SHOTS || 'build/browser';
mkdirSync(shots, { recursive: true });

const mint = (tenant, scope) =>
  execFileSync(env('CUSTOS_TEST_MKJWT'), [env('CUSTOS_TEST_IDP'), env('CUSTOS_JWT_ISSUER'),
    env('CUSTOS_JWT_AUDIENCE'), tenant, scope, '1']).toString().trim();

const CARD = '4111 1111 1111 1111';
const CARD_DIGITS = '4111111111111111';
const BAD_CARD = '4111111111111112'; // fails the Luhn check

let checks = 0;
const check = (cond, what) => {
  assert.ok(cond, what);
  checks++;
};

const api = await request.newContext({ baseURL: base, ignoreHTTPSErrors: true });
const tenant = `b-${randomBytes(6).toString('hex')}`;
const call = async (method, path, token, body, headers = {}) => {
  const r = await api.fetch(path, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...headers },
    data: body === undefined ? undefined : body,
  });
  let json = null;
  try { json = await r.json(); } catch { /* not JSON */ }
  return { status: r.status(), json, text: json ? JSON.stringify(json) : '' };
};
const expect = async (want, method, path, token, body, headers) => {
  const r = await call(method, path, token, body, headers);
  assert.equal(r.status, want, `${method} ${path}: ${r.status} ${r.text}`);
  return r.json;
};

// a tenant, a payments collection and the agent's session
const operator = mint(tenant, 'vault:admin');
await expect(201, 'POST', '/v1/tenants', operator, { id: tenant, name: 'Browser test' });
const agent = mint(tenant, 'tenant:admin records:write detokenize:*.*:plain');
await expect(201, 'PUT', '/v1/collections/payments', agent, {
  fields: { card: { type: 'card_number', tokenization: 'format_preserving', required: true } },
});
await expect(201, 'PUT', '/v1/purposes/payment', agent,
  { description: 'Take a payment', lawful_basis: 'contract' });
const session = await expect(201, 'POST', '/v1/capture-sessions', agent,
  { collection: 'payments', subject_id: 'crm-42', fields: ['card'], expires_in: 300 });
check(/^\/capture\/[A-Za-z0-9_-]{43}$/.test(session.url), `session url ${session.url}`);

const browser = await chromium.launch({
  executablePath: process.env.CUSTOS_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // root in CI has no user namespace sandbox; the page is our own, on loopback
  args: ['--no-sandbox'],
});
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, javaScriptEnabled: false });
  const page = await context.newPage();
  const origin = new URL(base).origin;
  const foreign = [];
  page.on('request', (r) => { if (new URL(r.url()).origin !== origin) foreign.push(r.url()); });
  const violations = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });

  // the page and its headers
  let resp = await page.goto(base + session.url);
  check(resp.status() === 200, `page status ${resp.status()}`);
  const h = resp.headers();
  const csp = h['content-security-policy'] || '';
  for (const d of ["default-src 'none'", "style-src 'self'", "form-action 'self'"]) {
    check(csp.includes(d), `CSP lacks ${d}: ${csp}`);
  }
  check(h['x-frame-options'] === 'DENY', `X-Frame-Options ${h['x-frame-options']}`);
  check(h['referrer-policy'] === 'no-referrer', `Referrer-Policy ${h['referrer-policy']}`);
  check(h['cache-control'] === 'no-store', `Cache-Control ${h['cache-control']}`);
  check(h['content-type'].startsWith('text/html'), `Content-Type ${h['content-type']}`);
  check(await page.locator('script').count() === 0, 'the page has a script');
  // its own stylesheet loaded under the CSP (the button is styled)
  const bg = await page.getByRole('button', { name: 'Submit securely' })
    .evaluate((b) => getComputedStyle(b).backgroundColor);
  check(bg === 'rgb(0, 112, 60)', `stylesheet not applied: button background ${bg}`);
  // the input has an accessible name from its label
  const card = page.getByLabel('Card');
  check(await card.count() === 1, 'no input labelled Card');
  check(await card.getAttribute('autocomplete') === 'cc-number', 'card input autocomplete');

  // an invalid card: the form again, with an announced error, and the value nowhere
  await card.fill(BAD_CARD);
  [resp] = await Promise.all([
    page.waitForNavigation(),
    page.getByRole('button', { name: 'Submit securely' }).click(),
  ]);
  check(resp.status() === 422, `invalid card status ${resp.status()}`);
  const alert = page.getByRole('alert');
  check(await alert.count() === 1, 'no role=alert error summary');
  const summary = await alert.innerText();
  check(/There is a problem/.test(summary), `summary: ${summary}`);
  check(/Luhn|check digit|card/i.test(summary), `summary names no card problem: ${summary}`);
  const again = page.getByLabel('Card');
  check(await again.getAttribute('aria-invalid') === 'true', 'input not marked invalid');
  const describedBy = await again.getAttribute('aria-describedby');
  check(describedBy === 'e-card', `aria-describedby ${describedBy}`);
  const errText = await page.locator(`#${describedBy}`).innerText();
  check(errText.startsWith('Error:'), `field error text: ${errText}`);
  check(await again.inputValue() === '', 'the invalid value was written back into the input');
  const html = await page.content();
  check(!html.includes(BAD_CARD) && !html.includes('1112'), 'the page echoes the invalid value');
  await page.screenshot({ path: `${shots}/capture-invalid-card.png`, fullPage: true });

  // a valid card: a confirmation without the value
  await again.fill(CARD);
  [resp] = await Promise.all([
    page.waitForNavigation(),
    page.getByRole('button', { name: 'Submit securely' }).click(),
  ]);
  check(resp.status() === 200, `valid card status ${resp.status()}`);
  check(await page.getByRole('heading', { name: 'Thank you' }).count() === 1, 'no confirmation');
  const done = await page.content();
  check(!done.includes('1111'), 'the confirmation shows the value');
  await page.screenshot({ path: `${shots}/capture-confirmation.png`, fullPage: true });

  // the agent's app: completed, a token, which reveals the card to a granted, purposeful reveal
  const st = await expect(200, 'GET', `/v1/capture-sessions/${session.id}`, agent);
  check(st.status === 'completed', `session status ${st.status}`);
  const token = st.record && st.record.tokens && st.record.tokens.card;
  check(typeof token === 'string' && token !== CARD_DIGITS, `card token ${token}`);
  const rev = await expect(200, 'POST', '/v1/detokenize', agent,
    { tokens: [token], redaction: 'plain' }, { 'X-Purpose': 'payment' });
  check(rev.results[0].value === CARD_DIGITS, 'the stored card is not the one typed');

  // the link is used: 410, as a page, whether opened or posted again
  const page2 = await context.newPage();
  resp = await page2.goto(base + session.url);
  check(resp.status() === 410, `reuse status ${resp.status()}`);
  check(await page2.getByRole('heading', { name: /expired or was already used/ }).count() === 1,
    'no 410 page');
  check((resp.headers()['x-frame-options'] || '') === 'DENY', '410 page without X-Frame-Options');
  await page2.screenshot({ path: `${shots}/capture-used-link.png`, fullPage: true });
  const repost = await page2.request.post(base + session.url, { form: { card: CARD_DIGITS } });
  check(repost.status() === 410, `repost status ${repost.status()}`);

  check(foreign.length === 0, `third-party requests: ${foreign.join(', ')}`);
  check(violations.length === 0, `CSP violations: ${violations.join(' | ')}`);
  await context.close();
} finally {
  await browser.close();
  await api.dispose();
}
console.log(`browser: capture page: ${checks} checks passed (screenshots in ${shots}/)`);
