// Who is signed in. A session lives in sessionStorage (this tab only) and holds
// the bearer token Envoy checks.
//
// demo: the customer picks a name from config.json, whose token the local dev
//       issuer signed.
// oidc: the authorization-code flow with PKCE (RFC 7636) against the provider in
//       config.json: redirect to its login, come back with ?code&state, trade the
//       code for tokens at its token endpoint. No refresh: when the access token
//       expires the customer signs in again.

import type { SignIn } from "./config.js";

export interface Session {
  /** The token's `sub`: the customer id every "my ..." call names. */
  customerId: string;
  name: string;
  token: string;
  /** Milliseconds since the epoch; undefined when the token carries no `exp`. */
  expiresAt?: number;
  /** OIDC only, for the provider's logout. */
  idToken?: string;
}

const SESSION = "cinema.session";
const PENDING = "cinema.oidc.pending";

export function currentSession(): Session | null {
  const raw = sessionStorage.getItem(SESSION);
  if (!raw) return null;
  const session = JSON.parse(raw) as Session;
  if (session.expiresAt !== undefined && session.expiresAt <= Date.now()) return null;
  return session;
}

/** True when a session was stored and its token has run out (not the same as never signed in). */
export function sessionExpired(): boolean {
  return sessionStorage.getItem(SESSION) !== null && currentSession() === null;
}

export function signInDemo(customer: { id: string; name: string; token: string }): Session {
  const claims = jwtClaims(customer.token);
  return store({
    customerId: typeof claims.sub === "string" ? claims.sub : customer.id,
    name: customer.name,
    token: customer.token,
    expiresAt: typeof claims.exp === "number" ? claims.exp * 1000 : undefined,
  });
}

export function signOut(): void {
  sessionStorage.removeItem(SESSION);
}

type Oidc = Extract<SignIn, { kind: "oidc" }>;

interface Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
  end_session_endpoint?: string;
}

/** Sends the browser to the provider's login; `returnTo` is the hash to come back to. */
export async function startOidc(oidc: Oidc, returnTo: string): Promise<never> {
  const discovery = await discover(oidc);
  const verifier = randomString(32);
  const state = randomString(16);
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, returnTo }));
  const url = new URL(discovery.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: oidc.clientId,
    redirect_uri: redirectUri(),
    scope: oidc.scope,
    state,
    code_challenge: await s256(verifier),
    code_challenge_method: "S256",
  }).toString();
  location.assign(url.toString());
  return new Promise<never>(() => {});
}

/**
 * On the way back from the provider (?code=...&state=...): trades the code for
 * tokens and stores the session. Returns the hash to go on to, or null when
 * this load is not a return from the provider.
 */
export async function completeOidc(oidc: Oidc): Promise<string | null> {
  const params = new URLSearchParams(location.search);
  const code = params.get("code");
  const error = params.get("error");
  if (!code && !error) return null;
  history.replaceState(null, "", location.pathname + location.hash);
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? "null");
  sessionStorage.removeItem(PENDING);
  if (error) throw new Error(`${error}: ${params.get("error_description") ?? ""}`);
  if (!pending || params.get("state") !== pending.state) throw new Error("sign-in state mismatch");
  const discovery = await discover(oidc);
  const response = await fetch(discovery.token_endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: code!,
      redirect_uri: redirectUri(),
      client_id: oidc.clientId,
      code_verifier: pending.verifier,
    }),
  });
  if (!response.ok) throw new Error(`token endpoint: HTTP ${response.status}`);
  const tokens = (await response.json()) as { access_token: string; id_token?: string; expires_in?: number };
  const claims = { ...jwtClaims(tokens.id_token ?? ""), ...jwtClaims(tokens.access_token) };
  store({
    customerId: String(claims.sub ?? ""),
    name: String(claims.name ?? claims.preferred_username ?? claims.sub ?? ""),
    token: tokens.access_token,
    expiresAt: tokens.expires_in ? Date.now() + tokens.expires_in * 1000 : undefined,
    idToken: tokens.id_token,
  });
  return pending.returnTo ?? "#/";
}

/** Ends the provider's session too, when it offers a logout endpoint. */
export async function signOutOidc(oidc: Oidc, idToken: string | undefined): Promise<void> {
  signOut();
  const { end_session_endpoint } = await discover(oidc);
  if (!end_session_endpoint) return;
  const url = new URL(end_session_endpoint);
  url.searchParams.set("post_logout_redirect_uri", redirectUri());
  url.searchParams.set("client_id", oidc.clientId);
  if (idToken) url.searchParams.set("id_token_hint", idToken);
  location.assign(url.toString());
}

function store(session: Session): Session {
  sessionStorage.setItem(SESSION, JSON.stringify(session));
  return session;
}

async function discover(oidc: Oidc): Promise<Discovery> {
  const response = await fetch(`${oidc.authority}/.well-known/openid-configuration`);
  if (!response.ok) throw new Error(`OIDC discovery: HTTP ${response.status}`);
  return response.json();
}

function redirectUri(): string {
  return location.origin + location.pathname;
}

/** The payload of a JWT, unverified: Envoy verifies; the page only reads `sub`, `exp`, `name`. */
export function jwtClaims(token: string): Record<string, unknown> {
  try {
    const payload = token.split(".")[1] ?? "";
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
  } catch {
    return {};
  }
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(bytes: number): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

async function s256(verifier: string): Promise<string> {
  return base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
}
