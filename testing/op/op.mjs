#!/usr/bin/env node
// Loopback OpenID Provider for opk end-to-end tests and the README demo.
//
// Built on the `oidc-provider` npm package (panva, OpenID-certified). Listens on 127.0.0.1 only.
//
// Usage:
//   node op.mjs [--port N] [--https --tls-cert FILE --tls-key FILE] [--clients FILE]
//               [--keys FILE] [--id-token-ttl SECONDS] [--stop-after-seconds N]
//               [--exit-on-stdin-eof] [--device-nonce] [--device-code-ttl SECONDS]
//
//   --port N                 TCP port on 127.0.0.1; 0 (default) picks a free one.
//   --https                  Serve TLS with --tls-cert / --tls-key (PEM). Issuer is then
//                            https://localhost:PORT, otherwise http://localhost:PORT.
//                            The issuer never has a trailing slash.
//   --clients FILE           JSON array of extra client metadata objects. An entry whose
//                            client_id equals a built-in client replaces it; others are added.
//                            Missing fields default to the built-in public native client shape.
//                            Extra field `opk_id_token_ttl` (seconds) sets that client's
//                            ID token lifetime (stripped before it reaches oidc-provider).
//   --keys FILE              Private signing JWKS ({"keys":[...]}, each with kid). If FILE
//                            does not exist, fresh keys are generated and written there (0600),
//                            so a restarted OP can keep (or, by deleting the file, rotate) keys.
//                            Without --keys, one RSA 2048 (RS256) and one P-256 (ES256) key are
//                            generated in memory at startup.
//   --id-token-ttl SECONDS   Default ID token lifetime (default 3600).
//   --stop-after-seconds N   Safety net: exit 0 after N seconds (default 1800; 0 = never).
//   --exit-on-stdin-eof      Exit when stdin reaches EOF (the parent test process died).
//   --device-nonce           Put the `nonce` parameter of a device authorization request into
//                            the device flow's ID token, as OPs that serve openpubkey's device
//                            flow do (oidc-provider itself drops it: RFC 8628 has no nonce).
//   --device-code-ttl SECONDS  Device code lifetime (default 600), for expiry tests.
//
// Built-in clients (public, native, token_endpoint_auth_method none, PKCE S256 required,
// grant types authorization_code, refresh_token, device_code; redirect URIs
// http://localhost:{3000,10001,11110}/login-callback):
//   opk-rs256  RS256 ID tokens
//   opk-es256  ES256 ID tokens
//   opk-short  RS256 ID tokens that expire after 5 seconds
//   opk-strict RS256, application_type web: redirect_uri must match exactly. (For the native
//              clients above, oidc-provider follows RFC 8252 7.3 and accepts any port on a
//              registered loopback redirect URI, e.g. http://localhost:4567/login-callback.)
//
// Users: the login page accepts any login name with any password, except the password
// `reject`, which ends the flow with error=access_denied. Claims: sub = login name,
// email = login name if it contains '@' else <name>@example.com, email_verified = true,
// name = login name, auth_time (every client has require_auth_time). The password `mfa` adds
// amr ["pwd","otp","mfa"] and acr "mfa"; with any other password the ID token has neither.
// The userinfo endpoint also answers groups ["userinfo-only"], which the ID token never has.
// Consent is granted automatically (no page).
//
// Scopes: openid, email, profile, offline_access. Scope claims are put into the ID token
// itself (conformIdTokenClaims: false). Refresh tokens are issued on every code/device
// exchange for clients allowed the refresh_token grant. Device flow is enabled
// (device_authorization_endpoint in discovery, verification page at <issuer>/device).
//
// Resource indicators (RFC 8707): `resource=urn:opk-test:AUD` on the authorize request gets a
// JWT access token (RS256) with audience AUD, the claim `email`, and scope `email`, as IdPs
// configured for an API audience issue them (zssh sends the access token to the OpenZiti
// controller); any other resource is refused (invalid_target). Without `resource`, access tokens
// stay opaque.
//
// Endpoints besides the OIDC ones from discovery (<issuer>/.well-known/openid-configuration):
//   GET /healthz                 200 "ok"
//   GET /interaction/:uid        login page (fields: login, password; button: Sign in)
//   <issuer>/device              device flow user-code page; its success page has #device-success
//
// Stdout protocol: exactly one line, `OP_READY <issuer>`, once listening. Everything else
// (request log, errors, oidc-provider notices) goes to stderr. SIGTERM/SIGINT exit 0.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { parseArgs } from 'node:util';

// oidc-provider prints development notices with console.info (stdout); keep stdout for the
// protocol line only. Must run before oidc-provider is imported, hence the dynamic import.
const toStderr = (...args) => console.error(...args);
console.log = toStderr;
console.info = toStderr;
console.debug = toStderr;

function log(msg) {
  process.stderr.write(`op: ${msg}\n`);
}

function die(msg) {
  process.stderr.write(`op: error: ${msg}\n`);
  process.exit(2);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      https: { type: 'boolean', default: false },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      clients: { type: 'string' },
      keys: { type: 'string' },
      'id-token-ttl': { type: 'string', default: '3600' },
      'stop-after-seconds': { type: 'string', default: '1800' },
      'exit-on-stdin-eof': { type: 'boolean', default: false },
      'device-nonce': { type: 'boolean', default: false },
      'device-code-ttl': { type: 'string', default: '600' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  }));
} catch (e) {
  die(e.message);
}

if (args.help) {
  const src = fs.readFileSync(new URL(import.meta.url), 'utf8');
  const header = src.split('\n').slice(1).filter((l) => l.startsWith('//')).map((l) => l.slice(3));
  process.stderr.write(`${header.join('\n')}\n`);
  process.exit(0);
}

function intArg(name, min, max) {
  const v = args[name];
  if (!/^\d+$/.test(v)) die(`--${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  const n = Number(v);
  if (n < min || n > max) die(`--${name} must be in [${min}, ${max}]`);
  return n;
}

const port = intArg('port', 0, 65535);
const defaultIdTokenTtl = intArg('id-token-ttl', 1, 10 * 365 * 24 * 3600);
const stopAfter = intArg('stop-after-seconds', 0, 10 * 365 * 24 * 3600);
const deviceCodeTtl = intArg('device-code-ttl', 1, 24 * 3600);

let tls;
if (args.https) {
  if (!args['tls-cert'] || !args['tls-key']) die('--https needs --tls-cert and --tls-key');
  try {
    tls = { cert: fs.readFileSync(args['tls-cert']), key: fs.readFileSync(args['tls-key']) };
  } catch (e) {
    die(`reading TLS files: ${e.message}`);
  }
} else if (args['tls-cert'] || args['tls-key']) {
  die('--tls-cert/--tls-key need --https');
}

// ---------------------------------------------------------------- clients

const REDIRECT_URIS = [
  'http://localhost:3000/login-callback',
  'http://localhost:10001/login-callback',
  'http://localhost:11110/login-callback',
];

function nativeClient(clientId, alg) {
  return {
    client_id: clientId,
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    response_types: ['code'],
    grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
    redirect_uris: [...REDIRECT_URIS],
    id_token_signed_response_alg: alg,
    // auth_time in every ID token, for opk's authentication-context rules (auth_age=).
    require_auth_time: true,
  };
}

const clientList = [
  nativeClient('opk-rs256', 'RS256'),
  nativeClient('opk-es256', 'ES256'),
  { ...nativeClient('opk-short', 'RS256'), opk_id_token_ttl: 5 },
  // oidc-provider lets native clients use any port on a loopback redirect URI (RFC 8252 7.3);
  // a 'web' client gets exact redirect_uri matching instead.
  { ...nativeClient('opk-strict', 'RS256'), application_type: 'web' },
];

if (args.clients) {
  let extra;
  try {
    extra = JSON.parse(fs.readFileSync(args.clients, 'utf8'));
  } catch (e) {
    die(`reading --clients ${args.clients}: ${e.message}`);
  }
  if (!Array.isArray(extra)) die('--clients file must hold a JSON array of client metadata objects');
  for (const c of extra) {
    if (!c || typeof c !== 'object' || typeof c.client_id !== 'string' || !c.client_id) {
      die('--clients: every entry needs a non-empty string client_id');
    }
    const merged = { ...nativeClient(c.client_id, 'RS256'), ...c };
    const i = clientList.findIndex((x) => x.client_id === c.client_id);
    if (i >= 0) clientList[i] = merged; else clientList.push(merged);
  }
}

const idTokenTtlByClient = new Map();
const clients = clientList.map((c) => {
  const { opk_id_token_ttl: ttl, ...meta } = c;
  if (ttl !== undefined) {
    if (!Number.isInteger(ttl) || ttl < 1) die(`client ${c.client_id}: opk_id_token_ttl must be a positive integer`);
    idTokenTtlByClient.set(c.client_id, ttl);
  }
  return meta;
});

// ---------------------------------------------------------------- signing keys

function generateKeys() {
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  const stamp = Date.now().toString(36);
  const rand = () => crypto.randomBytes(4).toString('hex');
  return {
    keys: [
      { ...rsa, kid: `rsa-${stamp}-${rand()}`, use: 'sig', alg: 'RS256' },
      { ...ec, kid: `ec-${stamp}-${rand()}`, use: 'sig', alg: 'ES256' },
    ],
  };
}

let jwks;
if (args.keys) {
  if (fs.existsSync(args.keys)) {
    try {
      jwks = JSON.parse(fs.readFileSync(args.keys, 'utf8'));
    } catch (e) {
      die(`reading --keys ${args.keys}: ${e.message}`);
    }
    if (!jwks || !Array.isArray(jwks.keys) || jwks.keys.length === 0) die('--keys file must be {"keys":[...]}');
    log(`loaded ${jwks.keys.length} signing key(s) from ${args.keys}`);
  } else {
    jwks = generateKeys();
    fs.writeFileSync(args.keys, `${JSON.stringify(jwks, null, 2)}\n`, { mode: 0o600 });
    log(`generated signing keys into ${args.keys}`);
  }
} else {
  jwks = generateKeys();
}
log(`signing keys: ${jwks.keys.map((k) => `${k.kid} (${k.kty}${k.alg ? ` ${k.alg}` : ''})`).join(', ')}`);

// ---------------------------------------------------------------- accounts

const MAX_LOGIN_LEN = 256;

function accountFor(login) {
  const email = login.includes('@') ? login : `${login}@example.com`;
  return {
    accountId: login,
    async claims(use, _scope, _claims, _rejected) {
      const claims = { sub: login, email, email_verified: true, name: login };
      // Only the userinfo endpoint adds this group, so a policy row matching it proves that
      // opk verify asked userinfo (the openpubkey-act certificate extension).
      return use === 'userinfo' ? { ...claims, groups: ['userinfo-only'] } : claims;
    },
  };
}

// ---------------------------------------------------------------- server

const { default: Provider, errors: oidcErrors } = await import('oidc-provider');
const TEST_RESOURCE = 'urn:opk-test:';

let provider; // set once the port is known
let providerCallback;

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (ch) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  }[ch]));
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:sans-serif;max-width:26em;margin:3em auto}label{display:block;margin:.8em 0}
input{display:block;width:100%;box-sizing:border-box;padding:.4em}button{margin-top:1em;padding:.5em 1.5em}</style>
</head><body>${body}</body></html>`;
}

function send(res, status, type, body, extraHeaders = {}) {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    ...extraHeaders,
  });
  res.end(body);
}

async function readForm(req, limit = 16 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new Error('form body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function autoConsent(req, res, details) {
  const { prompt, params, session, grantId } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  if (prompt.details.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  const saved = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId: saved } }, { mergeWithLastSubmission: true });
}

function loginPage(uid, details, error) {
  const client = details.params.client_id;
  const hint = typeof details.params.login_hint === 'string' ? details.params.login_hint : '';
  return page('Sign in', `
<h1>Sign in</h1>
<p>to <code>${escapeHtml(client)}</code> at the opk test OP. Any login name and password work
(the password <code>reject</code> denies access).</p>
${error ? `<p role="alert" id="error">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${encodeURIComponent(uid)}/login" autocomplete="off">
  <label>Login name <input id="login" type="text" name="login" required autofocus value="${escapeHtml(hint)}"></label>
  <label>Password <input id="password" type="password" name="password" required></label>
  <button id="submit" type="submit">Sign in</button>
</form>
<form method="post" action="/interaction/${encodeURIComponent(uid)}/abort">
  <button id="abort" type="submit">Cancel</button>
</form>`);
}

// Own interaction routes: /interaction/:uid (GET), /interaction/:uid/login, /interaction/:uid/abort (POST)
async function handleInteraction(req, res, url) {
  const m = /^\/interaction\/([A-Za-z0-9_-]+)(\/login|\/abort)?$/.exec(url.pathname);
  if (!m) return false;
  const [, uid, action] = m;
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (e) {
    send(res, 400, 'text/html; charset=utf-8', page('Error', `<h1>Interaction error</h1><p>${escapeHtml(e.message)}</p>`));
    return true;
  }
  if (details.uid !== uid) {
    send(res, 400, 'text/html; charset=utf-8', page('Error', '<h1>Interaction mismatch</h1>'));
    return true;
  }
  if (!action && req.method === 'GET') {
    if (details.prompt.name === 'login') {
      send(res, 200, 'text/html; charset=utf-8', loginPage(uid, details));
    } else if (details.prompt.name === 'consent') {
      await autoConsent(req, res, details);
    } else {
      send(res, 501, 'text/plain', `prompt ${details.prompt.name} not implemented\n`);
    }
    return true;
  }
  if (req.method !== 'POST') {
    send(res, 405, 'text/plain', 'method not allowed\n', { allow: 'POST' });
    return true;
  }
  if (action === '/abort') {
    await provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
    return true;
  }
  // action === '/login'
  if (details.prompt.name !== 'login') {
    send(res, 400, 'text/plain', 'login not expected at this step\n');
    return true;
  }
  const form = await readForm(req);
  const login = (form.get('login') || '').trim();
  const password = form.get('password') || '';
  if (!login || login.length > MAX_LOGIN_LEN || /[\s\u0000-\u001f\u007f]/.test(login)) {
    send(res, 200, 'text/html; charset=utf-8', loginPage(uid, details, 'Invalid login name.'));
    return true;
  }
  if (password === 'reject') {
    log(`login ${JSON.stringify(login)} rejected (password "reject")`);
    await provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'login rejected by the test OP',
    }, { mergeWithLastSubmission: false });
    return true;
  }
  // The password `mfa` stands for a second factor: amr ["pwd","otp","mfa"] and acr "mfa" in the
  // ID token. Any other password: no amr or acr claim at all.
  const mfa = password === 'mfa';
  const extra = mfa ? { amr: ['pwd', 'otp', 'mfa'], acr: 'mfa' } : {};
  log(`login ${JSON.stringify(login)} for client ${details.params.client_id}${mfa ? ' with mfa' : ''}`);
  await provider.interactionFinished(req, res, { login: { accountId: login, ...extra } }, { mergeWithLastSubmission: false });
  return true;
}

async function dispatch(req, res) {
  const started = Date.now();
  res.on('finish', () => log(`${req.method} ${req.url.split('?')[0]} -> ${res.statusCode} (${Date.now() - started} ms)`));
  let url;
  try {
    url = new URL(req.url, 'http://localhost');
  } catch {
    send(res, 400, 'text/plain', 'bad request\n');
    return;
  }
  try {
    if (url.pathname === '/healthz') {
      send(res, 200, 'text/plain', 'ok\n');
      return;
    }
    if (!providerCallback) {
      send(res, 503, 'text/plain', 'starting\n');
      return;
    }
    if (url.pathname.startsWith('/interaction/')) {
      if (await handleInteraction(req, res, url)) return;
    }
    providerCallback(req, res);
  } catch (e) {
    log(`handler error: ${e.stack || e}`);
    if (!res.headersSent) send(res, 500, 'text/plain', `internal error: ${e.message}\n`);
    else res.end();
  }
}

const server = args.https ? https.createServer(tls, dispatch) : http.createServer(dispatch);
server.on('clientError', (_e, socket) => socket.destroy());

await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
}).catch((e) => die(`listen on 127.0.0.1:${port}: ${e.message}`));

const actualPort = server.address().port;
const issuer = `${args.https ? 'https' : 'http'}://localhost:${actualPort}`;

provider = new Provider(issuer, {
  clients,
  jwks,
  findAccount: async (_ctx, sub) => {
    if (typeof sub !== 'string' || !sub || sub.length > MAX_LOGIN_LEN) return undefined;
    return accountFor(sub);
  },
  responseTypes: ['code'],
  scopes: ['openid', 'email', 'profile', 'offline_access'],
  // amr and acr reach the ID token only when a scope lists them (they come from the login,
  // see the password `mfa`); acr also needs acrValues.
  acrValues: ['mfa'],
  claims: {
    openid: ['sub', 'acr', 'amr', 'groups'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  conformIdTokenClaims: false,
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    deviceFlow: {
      enabled: true,
      // Own pages: the defaults pull web fonts from the internet, which tests must never touch.
      userCodeInputSource: async (ctx, form, _out, err) => {
        ctx.type = 'html';
        ctx.body = page('Device sign-in', `<h1>Device sign-in</h1>
${err ? `<p role="alert" id="error">${escapeHtml(err.userCode || err.name === 'NoCodeError'
    ? 'The code you entered is incorrect. Try again.' : 'There was an error processing your request.')}</p>`
    : '<p>Enter the code displayed on your device.</p>'}
${form}
<button id="submit" type="submit" form="op.deviceInputForm">Continue</button>`);
      },
      userCodeConfirmSource: async (ctx, form, client, _deviceInfo, userCode) => {
        ctx.type = 'html';
        ctx.body = page('Confirm device', `<h1>Confirm device</h1>
<p>Client <code>${escapeHtml(client.clientId)}</code> shows the code <code id="user-code">${escapeHtml(userCode)}</code>.</p>
${form}
<button id="submit" type="submit" form="op.deviceConfirmForm">Continue</button>
<button id="abort" type="submit" form="op.deviceConfirmForm" value="yes" name="abort">Abort</button>`);
      },
      successSource: async (ctx) => {
        ctx.type = 'html';
        ctx.body = page('Device sign-in success', `<h1 id="device-success">Sign-in success</h1>
<p>Your device sign-in to <code>${escapeHtml(ctx.oidc.client.clientId)}</code> was successful; you can close this page.</p>`);
      },
    },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // The granted resource also applies at the token endpoint, which opk does not repeat it to.
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, indicator) => {
        const audience = indicator.startsWith(TEST_RESOURCE) ? indicator.slice(TEST_RESOURCE.length) : '';
        if (!audience) throw new oidcErrors.InvalidTarget();
        return { scope: 'email', audience, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
      },
    },
  },
  extraTokenClaims: async (_ctx, token) => {
    if (token.kind !== 'AccessToken' || !token.resourceServer) return undefined;
    const login = token.accountId;
    return { email: login.includes('@') ? login : `${login}@example.com` };
  },
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 120,
    DeviceCode: deviceCodeTtl,
    Grant: 14 * 24 * 3600,
    IdToken: (_ctx, _token, client) => idTokenTtlByClient.get(client.clientId) ?? defaultIdTokenTtl,
    Interaction: 3600,
    RefreshToken: 14 * 24 * 3600,
    Session: 14 * 24 * 3600,
  },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  clientBasedCORS: () => true,
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('OP error', `<h1>OP error</h1>${Object.entries(out)
      .map(([k, v]) => `<p><b>${escapeHtml(k)}</b>: <span id="${escapeHtml(k)}">${escapeHtml(v)}</span></p>`).join('')}`);
  },
});

for (const ev of ['server_error', 'authorization.error', 'grant.error', 'end_session.error', 'userinfo.error',
  'backchannel.error', 'jwks.error', 'discovery.error', 'introspection.error', 'revocation.error']) {
  provider.on(ev, (_ctx, err) => log(`${ev}: ${err?.name || ''} ${err?.message || err} ${err?.error_description || ''}`));
}
provider.on('grant.success', (ctx) => log(`grant.success client=${ctx.oidc.client?.clientId}`));

if (args['device-nonce']) {
  // The device authorization request's parameters are kept on the device code; copying the
  // nonce to the code's own `nonce` (which the ID token is built from) before its first save
  // makes the device-flow ID token carry it, like the authorization code flow's.
  const { DeviceCode } = provider;
  const save = DeviceCode.prototype.save;
  DeviceCode.prototype.save = function saveWithNonce(...rest) {
    if (this.nonce === undefined && typeof this.params?.nonce === 'string') this.nonce = this.params.nonce;
    return save.apply(this, rest);
  };
}

providerCallback = provider.callback();

let stopping = false;
function shutdown(reason, code = 0) {
  if (stopping) return;
  stopping = true;
  log(`stopping: ${reason}`);
  server.close(() => process.exit(code));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(code), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
if (stopAfter > 0) {
  setTimeout(() => shutdown(`--stop-after-seconds ${stopAfter} elapsed`), stopAfter * 1000).unref();
}
if (args['exit-on-stdin-eof']) {
  process.stdin.on('end', () => shutdown('stdin EOF'));
  process.stdin.on('error', () => shutdown('stdin error'));
  process.stdin.resume();
}

log(`listening on ${args.https ? 'https' : 'http'}://127.0.0.1:${actualPort}, clients: ${clients.map((c) => c.client_id).join(', ')}`);
process.stdout.write(`OP_READY ${issuer}\n`);
