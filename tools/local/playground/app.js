// The sign-in playground: plain JavaScript, no build step. Everything a response says is rendered
// with textContent, never as markup.
'use strict';

const $ = (id) => document.getElementById(id);
const SETTINGS = 'playground.settings';
const PENDING = 'playground.pending';
const SESSION = 'playground.session';

function randomHex(bytes) {
  const a = new Uint8Array(bytes);
  crypto.getRandomValues(a);
  return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function sha256Hex(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

function load(key) {
  try { return JSON.parse(sessionStorage.getItem(key) || 'null'); } catch (e) { return null; }
}

function save(key, value) {
  if (value === null) sessionStorage.removeItem(key); else sessionStorage.setItem(key, JSON.stringify(value));
}

function showError(message) { $('error').textContent = message || ''; }

function settings() {
  return {
    instance: $('instance').value.trim(),
    apiKey: $('api-key').value.trim(),
    adminKey: $('admin-key').value.trim(),
    provider: $('provider').value,
    dialect: $('dialect').value,
  };
}

function applySettings(s) {
  if (!s) return;
  $('instance').value = s.instance;
  $('api-key').value = s.apiKey;
  $('admin-key').value = s.adminKey;
  $('provider').value = s.provider;
  $('dialect').value = s.dialect;
}

function labelButton() {
  const select = $('provider');
  $('sign-in').textContent = `Sign in with ${select.options[select.selectedIndex].text}`;
}

function noteDialect() {
  labelButton();
  const rc = $('dialect').value === 'rocketchat';
  $('dialect-note').textContent = rc
    ? 'Rocket.Chat: POST /api/v1/login signs in to the deployment\'s default instance (no API key).'
    : 'Syncano: POST /v1.1/instances/{instance}/user/auth/{backend}/ with the client API key.';
}

// Where each provider's consent page is and what it is asked for (the nonce the provider puts
// into the ID token: Apple's and Microsoft's are the SHA-256 of the raw nonce sent to the login).
function authorizeUrl(cfg, provider, redirectUri, state, nonce, nonceHash) {
  const e = cfg.emulator_url;
  const table = {
    facebook: [`${e}/v22.0/dialog/oauth`, cfg.facebook_app_id, { response_type: 'token' }],
    google: [`${e}/google/o/oauth2/v2/auth`, cfg.google_client_id, { response_type: 'id_token', scope: 'openid email profile', nonce }],
    apple: [`${e}/apple/auth/authorize`, cfg.apple_client_id, { response_type: 'code id_token', response_mode: 'fragment', nonce: nonceHash }],
    twitter: [`${e}/twitter/oauth/authorize`, cfg.twitter_consumer_key, {}],
    github: [`${e}/github/login/oauth/authorize`, cfg.github_client_id, { scope: 'read:user user:email' }],
    linkedin: [`${e}/linkedin/oauth/v2/authorization`, cfg.linkedin_client_id, { response_type: 'code', scope: 'openid profile email', nonce }],
    microsoft: [`${e}/microsoft/common/oauth2/v2.0/authorize`, cfg.microsoft_client_id, { response_type: 'id_token', scope: 'openid profile email', response_mode: 'fragment', nonce: nonceHash }],
  };
  if (cfg.custom_oidc) {
    table.oidc = [cfg.custom_oidc.authorization_endpoint, cfg.custom_oidc.client_id, { response_type: 'id_token', scope: 'openid profile email', response_mode: 'fragment', nonce: nonceHash }];
  }
  const [base, clientId, extra] = table[provider];
  const params = new URLSearchParams({ client_id: clientId, redirect_uri: redirectUri, state, ...extra });
  return `${base}?${params}`;
}

const SYNCANO_BACKEND = {
  facebook: 'facebook', google: 'google-oauth2', apple: 'apple', twitter: 'twitter',
  github: 'github', linkedin: 'linkedin', microsoft: 'microsoft-graph',
};

// The login request of `provider` in `dialect` from what the consent page handed back.
function loginRequest(s, handed, nonce, cfg) {
  const p = s.provider;
  const custom = cfg.custom_oidc ? cfg.custom_oidc.name : '';
  let body;
  if (s.dialect === 'syncano') {
    const token = {
      facebook: handed.get('access_token'), google: handed.get('credential'), apple: handed.get('id_token'),
      twitter: `${handed.get('oauth_token')}:${handed.get('oauth_token_secret')}`,
      github: handed.get('access_token'), linkedin: handed.get('id_token'), microsoft: handed.get('id_token'),
      oidc: handed.get('id_token'),
    }[p];
    body = { access_token: token };
    if (p === 'apple' || p === 'microsoft' || p === 'oidc') body.nonce = nonce;
    if (p === 'apple') {
      body.authorization_code = handed.get('code');
      const name = appleName(handed);
      if (name) body.name = name;
    }
    return {
      method: 'POST',
      url: `/v1.1/instances/${encodeURIComponent(s.instance)}/user/auth/${p === 'oidc' ? `oidc-${custom}` : SYNCANO_BACKEND[p]}/`,
      headers: { 'X-API-KEY': s.apiKey, 'Content-Type': 'application/json' },
      body,
    };
  }
  body = {
    facebook: { serviceName: 'facebook', accessToken: handed.get('access_token'), secret: '', expiresIn: Number(handed.get('expires_in') || 3600) },
    google: { serviceName: 'google', idToken: handed.get('credential'), expiresIn: 3600 },
    apple: { serviceName: 'apple', identityToken: handed.get('id_token'), nonce, authorizationCode: handed.get('code') },
    twitter: { serviceName: 'twitter', accessToken: handed.get('oauth_token'), accessTokenSecret: handed.get('oauth_token_secret'), appId: '', appSecret: '', expiresIn: 0 },
    github: { serviceName: 'github', accessToken: handed.get('access_token'), expiresIn: 28800 },
    linkedin: { serviceName: 'linkedin', idToken: handed.get('id_token'), expiresIn: Number(handed.get('expires_in') || 3600) },
    // Microsoft and custom providers are Rocket.Chat custom OAuth services: the ID token is
    // their `accessToken`.
    microsoft: { serviceName: 'microsoft', accessToken: handed.get('id_token'), nonce, expiresIn: 3600 },
    oidc: { serviceName: custom, accessToken: handed.get('id_token'), nonce, expiresIn: 3600 },
  }[p];
  if (p === 'apple') {
    const name = appleName(handed);
    if (name) body.fullName = name;
  }
  return { method: 'POST', url: '/api/v1/login', headers: { 'Content-Type': 'application/json' }, body };
}

function appleName(handed) {
  try {
    const user = JSON.parse(handed.get('user') || 'null');
    const name = user && user.name ? `${user.name.firstName || ''} ${user.name.lastName || ''}`.trim() : '';
    return name || null;
  } catch (e) { return null; }
}

function shellQuote(text) { return `'${String(text).replace(/'/g, `'\\''`)}'`; }

function curlOf(req) {
  const parts = ['curl', '-X', req.method];
  for (const [k, v] of Object.entries(req.headers || {})) parts.push('-H', shellQuote(`${k}: ${v}`));
  if (req.body !== undefined) parts.push('-d', shellQuote(JSON.stringify(req.body)));
  parts.push(shellQuote(location.origin + req.url));
  return parts.join(' ');
}

async function send(req) {
  const init = { method: req.method, headers: req.headers || {} };
  if (req.body !== undefined) init.body = JSON.stringify(req.body);
  const response = await fetch(req.url, init);
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
  return { status: response.status, text, json };
}

function pretty(answer) { return answer.json !== null ? JSON.stringify(answer.json, null, 2) : answer.text; }

function showSteps(dialect) {
  $('steps').hidden = false;
  for (const button of document.querySelectorAll('#steps button[data-dialect]')) {
    button.hidden = button.dataset.dialect !== dialect;
  }
}

async function signIn() {
  showError('');
  const s = settings();
  save(SETTINGS, s);
  const cfg = await (await fetch('config.json')).json();
  const state = randomHex(16);
  const nonce = randomHex(16);
  save(PENDING, { state, nonce, settings: s });
  const redirectUri = location.origin + location.pathname;
  location.assign(authorizeUrl(cfg, s.provider, redirectUri, state, nonce, await sha256Hex(nonce)));
}

// Back from a consent page: the answer is in the fragment.
async function finishSignIn(fragment) {
  history.replaceState(null, '', location.pathname);
  const handed = new URLSearchParams(fragment);
  const pending = load(PENDING);
  save(PENDING, null);
  if (!pending || handed.get('state') !== pending.state) {
    showError('The answer does not carry the state of a sign-in this page started: ignored.');
    return;
  }
  applySettings(pending.settings);
  noteDialect();
  if (handed.get('error')) {
    showError(`The provider answered: ${handed.get('error')}`);
    return;
  }
  const s = pending.settings;
  const cfg = await (await fetch('config.json')).json();
  const req = loginRequest(s, handed, pending.nonce, cfg);
  const answer = await send(req);
  $('result').hidden = false;
  $('login-status').textContent = String(answer.status);
  $('login-body').textContent = pretty(answer);
  $('curl').textContent = curlOf(req);
  const j = answer.json || {};
  let session = null;
  if (answer.status === 200 && s.dialect === 'syncano' && j.user_key) {
    session = { dialect: 'syncano', s, id: j.id, username: j.username, userKey: j.user_key };
    $('user-name').textContent = j.username;
    $('user-id').textContent = String(j.id);
  } else if (answer.status === 200 && s.dialect === 'rocketchat' && j.data) {
    const me = j.data.me || {};
    session = { dialect: 'rocketchat', s, id: j.data.userId, username: me.username, authToken: j.data.authToken };
    $('user-name').textContent = me.name || me.username || '';
    $('user-id').textContent = j.data.userId;
  } else {
    $('user-name').textContent = '(none)';
    $('user-id').textContent = '-';
  }
  save(SESSION, session);
  if (session) showSteps(session.dialect); else $('steps').hidden = true;
}

async function step(name, build) {
  showError('');
  const session = load(SESSION);
  if (!session) { showError('Sign in first.'); return; }
  for (const id of ['step-name', 'step-status', 'step-body', 'step-curl']) $(id).textContent = '';
  const req = await build(session);
  const answer = await send(req);
  $('step-name').textContent = name;
  $('step-status').textContent = String(answer.status);
  $('step-body').textContent = pretty(answer);
  $('step-curl').textContent = curlOf(req);
  return { session, answer };
}

function syncanoUser(session) {
  return {
    method: 'GET',
    url: `/v1.1/instances/${encodeURIComponent(session.s.instance)}/user/`,
    headers: { 'X-API-KEY': session.s.apiKey, 'X-USER-KEY': session.userKey },
  };
}

function rcHeaders(session) { return { 'X-Auth-Token': session.authToken, 'X-User-Id': session.id }; }

function wireSteps() {
  $('step-me').addEventListener('click', () => step('me', (session) => session.dialect === 'syncano'
    ? syncanoUser(session)
    : { method: 'GET', url: '/api/v1/me', headers: rcHeaders(session) }));
  $('step-logout').addEventListener('click', () => step('logout', (session) =>
    ({ method: 'POST', url: '/api/v1/logout', headers: rcHeaders(session) })));
  $('step-logout-others').addEventListener('click', () => step('users.removeOtherTokens', (session) =>
    ({ method: 'POST', url: '/api/v1/users.removeOtherTokens', headers: rcHeaders(session) })));
  $('step-reset-key').addEventListener('click', async () => {
    const done = await step('reset_key', (session) => ({
      method: 'POST',
      url: `/v1.1/instances/${encodeURIComponent(session.s.instance)}/users/${session.id}/reset_key/`,
      headers: { 'X-API-KEY': session.s.adminKey },
    }));
    if (done && done.answer.status === 200 && done.answer.json && done.answer.json.user_key) {
      save(SESSION, { ...done.session, userKey: done.answer.json.user_key });
    }
  });
  $('step-delete').addEventListener('click', () => step('delete account', async (session) => {
    if (session.dialect === 'syncano') return { ...syncanoUser(session), method: 'DELETE' };
    return {
      method: 'POST',
      url: '/api/v1/users.deleteOwnAccount',
      headers: { ...rcHeaders(session), 'Content-Type': 'application/json' },
      body: { password: await sha256Hex(session.username || '') },
    };
  }));
}

async function init() {
  const cfg = await (await fetch('config.json')).json();
  if (cfg.custom_oidc) {
    const option = document.createElement('option');
    option.value = 'oidc';
    option.textContent = `OpenID Connect (${cfg.custom_oidc.name})`;
    $('provider').appendChild(option);
  }
  applySettings(load(SETTINGS) || {
    instance: cfg.instance, apiKey: cfg.api_key, adminKey: cfg.admin_api_key, provider: 'facebook', dialect: 'syncano',
  });
  noteDialect();
  $('dialect').addEventListener('change', noteDialect);
  $('provider').addEventListener('change', labelButton);
  $('sign-in').addEventListener('click', () => signIn().catch((e) => showError(String(e))));
  wireSteps();
  const fragment = location.hash.slice(1);
  if (fragment) await finishSignIn(fragment);
  document.body.dataset.ready = 'true';
}

init().catch((e) => showError(String(e)));
