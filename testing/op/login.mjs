#!/usr/bin/env node
// Headless browser login driver for opk end-to-end tests.
//
// Usage:
//   node login.mjs URL [--user NAME] [--password PW] [--screenshot FILE] [--timeout SECONDS]
//                      [--chromium PATH] [--ca FILE] [--ignore-https-errors]
//                      [--callback-time FILE] [--callback-path PATH]
//
// Opens URL (the OP authorization URL printed by `opk login --disable-browser-open`) in Debian
// Chromium (/usr/bin/chromium, override with --chromium or $OPK_CHROMIUM) driven by
// playwright-core, with a fresh temporary profile. Fills the test OP's login form (field `login`
// with --user, default alice@example.com; field `password` with --password, default
// "password"), submits, clicks a consent button if one is shown, and waits for the redirect to
// http://localhost:<port>/login-callback (served by the program under test) to finish loading.
// For the device flow, pass the verification_uri_complete as URL: the driver confirms the code
// ("Continue"), logs in, and stops at the OP's success page (element #device-success).
//
// Stdout protocol: on success exactly one line `LOGIN_PAGE <visible text of the final page,
// whitespace collapsed to single spaces>` and exit 0. On any failure, or after --timeout
// seconds (default 60), one line `login.mjs: <reason>` on stderr and exit 1 (stdout empty).
// --ca FILE trusts a test CA (PEM) for an https OP: Node verifies the OP's certificate with it,
// then Chromium is told to accept exactly that certificate's key (SPKI pin). --ignore-https-errors accepts any certificate (last resort).
// --screenshot FILE saves a PNG of the last page (also on failure, when possible).
// --callback-time FILE writes the wall-clock time (Unix epoch milliseconds, fractional) at which the
// browser started the request to the loopback /login-callback, from the browser's own resource
// timing: the start of the client's own work, for the login-latency benchmark (scripts/bench.sh B3).
// (Not the time the driver hears of the request: that event arrives late by a varying 0–150 ms.)
// --callback-path PATH waits for that loopback path instead of /login-callback (zssh's
// `/auth/callback`, which `opk zssh -o` uses).

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { parseArgs } from 'node:util';

let browser;
let context;
let userDataDir;
let finished = false;

function cleanup() {
  if (userDataDir) {
    try { fs.rmSync(userDataDir, { recursive: true, force: true }); } catch { /* best effort */ }
  }
}

async function fail(reason, page, screenshot) {
  if (finished) return;
  finished = true;
  if (page && screenshot) {
    try { await page.screenshot({ path: screenshot, fullPage: true, timeout: 5000 }); } catch { /* ignore */ }
  }
  process.stderr.write(`login.mjs: ${String(reason).replace(/\s+/g, ' ').trim()}\n`);
  try { await context?.close(); } catch { /* ignore */ }
  try { await browser?.close(); } catch { /* ignore */ }
  cleanup();
  process.exit(1);
}

let opts;
let positionals;
try {
  ({ values: opts, positionals } = parseArgs({
    options: {
      user: { type: 'string', default: 'alice@example.com' },
      password: { type: 'string', default: 'password' },
      screenshot: { type: 'string' },
      timeout: { type: 'string', default: '60' },
      chromium: { type: 'string', default: process.env.OPK_CHROMIUM || '/usr/bin/chromium' },
      ca: { type: 'string' },
      'ignore-https-errors': { type: 'boolean', default: false },
      'callback-time': { type: 'string' },
      'callback-path': { type: 'string', default: '/login-callback' },
    },
    allowPositionals: true,
    strict: true,
  }));
} catch (e) {
  await fail(e.message);
}
if (positionals.length !== 1) await fail('usage: login.mjs URL [--user NAME] [--password PW] [--screenshot FILE] [--timeout S] [--ca FILE]');
const startUrl = positionals[0];
try {
  const u = new URL(startUrl);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
} catch (e) {
  await fail(`bad URL ${JSON.stringify(startUrl)}: ${e.message}`);
}
if (!/^\d+$/.test(opts.timeout) || Number(opts.timeout) < 1) await fail('--timeout must be a positive integer');
const timeoutMs = Number(opts.timeout) * 1000;

// --ca FILE: trust a test CA (PEM) for an https OP. Chromium has no per-profile CA flag, and its
// SPKI allow-list only sees the certificate the server sends. So Node first connects to the
// start URL's host with that CA (full chain + hostname check); the leaf it verified is then
// pinned by SPKI hash for Chromium. Any other certificate error still fails.
const spkiPins = [];
if (opts.ca) {
  try {
    const ca = fs.readFileSync(opts.ca);
    const target = new URL(startUrl);
    if (target.protocol !== 'https:') throw new Error('only meaningful for an https URL');
    const leaf = await new Promise((resolve, reject) => {
      const sock = tlsConnect({
        host: '127.0.0.1',
        port: Number(target.port || 443),
        servername: target.hostname,
        ca,
        timeout: 10000,
      }, () => {
        const cert = sock.getPeerX509Certificate();
        sock.destroy();
        resolve(cert);
      });
      sock.on('error', reject);
      sock.on('timeout', () => { sock.destroy(); reject(new Error('TLS connect timed out')); });
    });
    const spki = leaf.publicKey.export({ type: 'spki', format: 'der' });
    spkiPins.push(createHash('sha256').update(spki).digest('base64'));
  } catch (e) {
    await fail(`--ca ${opts.ca}: ${e.message}`);
  }
}

const hardTimer = setTimeout(() => {
  fail(`timed out after ${opts.timeout} s`, currentPage, opts.screenshot);
}, timeoutMs);
let currentPage;

const isCallback = (u) => {
  try {
    const p = new URL(u);
    return p.pathname === opts['callback-path'] && (p.hostname === 'localhost' || p.hostname === '127.0.0.1' || p.hostname === '[::1]');
  } catch {
    return false;
  }
};

try {
  const { chromium } = await import('playwright-core');
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opk-login-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: opts.chromium,
    headless: true,
    ignoreHTTPSErrors: opts['ignore-https-errors'],
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // the callback listener binds 127.0.0.1; never try ::1 first for localhost
      '--host-resolver-rules=MAP localhost 127.0.0.1',
      ...(spkiPins.length ? [`--ignore-certificate-errors-spki-list=${spkiPins.join(',')}`] : []),
    ],
    timeout: timeoutMs,
  });
  browser = context.browser();
  const page = context.pages()[0] ?? await context.newPage();
  currentPage = page;
  page.setDefaultTimeout(timeoutMs);

  let callbackTimed = Promise.resolve();
  if (opts['callback-time']) {
    callbackTimed = new Promise((resolve) => {
      page.on('requestfinished', (req) => {
        if (!isCallback(req.url())) return;
        fs.writeFileSync(opts['callback-time'], `${req.timing().startTime}\n`);
        resolve();
      });
    });
  }
  // Remember the navigation to the callback so we can wait for it wherever it happens.
  const callbackLoaded = page.waitForURL(isCallback, { waitUntil: 'load', timeout: timeoutMs });
  callbackLoaded.catch(() => {});

  const resp = await page.goto(startUrl, { waitUntil: 'load' });
  if (resp && resp.status() >= 400 && !isCallback(page.url())) {
    const text = (await page.innerText('body').catch(() => '')).replace(/\s+/g, ' ').trim();
    await fail(`OP answered HTTP ${resp.status()} for the authorization URL: ${text.slice(0, 300)}`, page, opts.screenshot);
  }

  // Step through OP pages until the callback is reached: login form, then (optional) consent.
  const done = async () => isCallback(page.url()) || (await page.locator('#device-success').count()) > 0;
  for (let step = 0; step < 6 && !(await done()); step += 1) {
    const loginField = page.locator('input[name="login"], input[name="username"], input[type="email"]').first();
    const passwordField = page.locator('input[type="password"]').first();
    if (await loginField.count() > 0 && await passwordField.count() > 0) {
      await loginField.fill(opts.user);
      await passwordField.fill(opts.password);
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.locator('button[type="submit"], input[type="submit"]').first().click(),
      ]);
      continue;
    }
    const consent = page.locator('button:has-text("Continue"), button:has-text("Allow"), button:has-text("Authorize"), button:has-text("Yes")').first();
    if (await consent.count() > 0) {
      await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), consent.click()]);
      continue;
    }
    const text = (await page.innerText('body').catch(() => '')).replace(/\s+/g, ' ').trim();
    await fail(`unexpected page ${page.url()}: ${text.slice(0, 300)}`, page, opts.screenshot);
  }

  if (!(await done())) await fail(`never reached ${opts['callback-path']} (at ${page.url()})`, page, opts.screenshot);
  if (isCallback(page.url())) await Promise.all([callbackLoaded, callbackTimed]);
  const text = (await page.innerText('body')).replace(/\s+/g, ' ').trim();
  if (opts.screenshot) await page.screenshot({ path: opts.screenshot, fullPage: true });
  if (!finished) {
    finished = true;
    clearTimeout(hardTimer);
    process.stdout.write(`LOGIN_PAGE ${text}\n`);
    await context.close().catch(() => {});
    cleanup();
    process.exit(0);
  }
} catch (e) {
  await fail(e?.message?.split('\n')[0] || String(e), currentPage, opts.screenshot);
}
