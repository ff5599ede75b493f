// Login, token refresh and logout against the gateway's OpenID Connect issuer (or the
// external provider GET /v1/system/auth names): the authorization-code flow with PKCE
// (S256) at the provider's login page; the password grant from the console's own form
// only when the provider has no authorization endpoint. Tokens live in sessionStorage only (this tab), never in a URL.

const KEY = 'photon.session';
const PKCE = 'photon.pkce';
let config = null;
let refreshTimer = 0;
let refreshing = null;

export const session = () => JSON.parse(sessionStorage.getItem(KEY) || 'null');

// discover reads once where to log in: GET /v1/system/auth names the console's client
// id and the endpoints of the embedded issuer or of the external provider alike.
export async function discover() {
  if (config) return config;
  const res = await fetch('/v1/system/auth');
  const a = res.ok ? await res.json() : {};
  config = {
    token: path(a.tokenEndpoint) || '/openidconnect/token',
    authorize: path(a.authorizationEndpoint),
    endSession: path(a.endSessionEndpoint),
    revoke: path(a.revocationEndpoint),
    codeFlow: !!a.authorizationEndpoint,
    clientId: a.clientId || 'photon-console',
    scope: a.scope || 'openid offline_access',
  };
  return config;
}

// path keeps an endpoint's path when it is on this origin (the console calls its own
// gateway only: the CSP allows no other), else the full URL for a redirect. An issuer
// without a public URL names its endpoints after itself ("photon/..."): those are
// taken as the defaults.
function path(u) {
  if (!URL.canParse(u || '')) return ''; // not an absolute URL: the default
  const url = new URL(u);
  return url.origin === location.origin ? url.pathname : url.href;
}

const redirectURI = () => location.origin + '/';

function b64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// beginLogin sends the browser to the authorization endpoint.
export async function beginLogin() {
  const c = await discover();
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PKCE, JSON.stringify({ verifier, state, hash: location.hash }));
  const q = new URLSearchParams({
    response_type: 'code', client_id: c.clientId, redirect_uri: redirectURI(), state,
    code_challenge: challenge, code_challenge_method: 'S256', scope: c.scope,
  });
  location.assign(c.authorize + '?' + q);
}

// finishLogin trades the code the provider sent back for tokens; it reports whether the
// page was such a return.
export async function finishLogin() {
  const q = new URLSearchParams(location.search);
  if (!q.has('code') && !q.has('error')) return false;
  const saved = JSON.parse(sessionStorage.getItem(PKCE) || 'null');
  sessionStorage.removeItem(PKCE);
  history.replaceState(null, '', '/' + (saved?.hash || ''));
  if (q.has('error')) throw new Error(q.get('error_description') || q.get('error'));
  if (!saved || saved.state !== q.get('state')) throw new Error('the login answer does not match the login asked for');
  const c = await discover();
  await grant({ grant_type: 'authorization_code', code: q.get('code'), redirect_uri: redirectURI(),
    client_id: c.clientId, code_verifier: saved.verifier });
  return true;
}

// passwordLogin logs in with the password grant (providers without an authorization
// endpoint).
export async function passwordLogin(username, password) {
  await grant({ grant_type: 'password', username, password, scope: 'openid offline_access' });
}

async function grant(form) {
  const c = await discover();
  const res = await fetch(c.token, { method: 'POST', body: new URLSearchParams(form),
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok || !body.access_token) {
    throw new Error(body.error_description || body.message || body.error || `login failed (${res.status})`);
  }
  const claims = JSON.parse(atob(body.access_token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
  const s = { access: body.access_token, refresh: body.refresh_token || session()?.refresh || '',
    expires: Date.now() + (body.expires_in || 3600) * 1000, user: claims.sub, groups: claims.groups || [] };
  sessionStorage.setItem(KEY, JSON.stringify(s));
  schedule();
}

// schedule refreshes the access token a minute before it expires.
export function schedule() {
  clearTimeout(refreshTimer);
  const s = session();
  if (!s?.refresh) return;
  refreshTimer = setTimeout(() => refresh().catch(() => {}), Math.max(1000, s.expires - Date.now() - 60000));
}

// refresh trades the refresh token for new tokens (once at a time: refresh tokens are
// one-time).
export function refresh() {
  const s = session();
  if (!s?.refresh) return Promise.reject(new Error('no refresh token'));
  refreshing ??= grant({ grant_type: 'refresh_token', refresh_token: s.refresh })
    .finally(() => { refreshing = null; });
  return refreshing;
}

// logout revokes the refresh token and ends the session (at the provider too, when it
// has an end-session endpoint).
export async function logout() {
  const s = session();
  const c = await discover();
  sessionStorage.removeItem(KEY);
  clearTimeout(refreshTimer);
  if (s?.refresh && c.revoke) {
    await fetch(c.revoke, { method: 'POST', body: new URLSearchParams({ token: s.refresh, token_type_hint: 'refresh_token',
      client_id: c.clientId }), headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }).catch(() => {});
  }
  if (c.endSession) {
    location.assign(c.endSession + '?' + new URLSearchParams({ post_logout_redirect_uri: redirectURI(), client_id: c.clientId }));
    return;
  }
  location.hash = '#/';
  location.reload();
}
