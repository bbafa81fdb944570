// The run-time configuration: /config.json on the page's own origin, written by
// whoever serves the page (the stack locally, the chart in production).

export interface DemoCustomer {
  id: string;
  name: string;
  token: string;
}

export type SignIn =
  | { kind: "demo"; customers: DemoCustomer[] }
  | { kind: "oidc"; authority: string; clientId: string; scope: string };

export interface Config {
  /** The Envoy gateway; the page's own origin unless configured. */
  gatewayUrl: string;
  signIn: SignIn;
}

export async function loadConfig(): Promise<Config> {
  const response = await fetch("/config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`/config.json: HTTP ${response.status}`);
  return parseConfig(await response.json());
}

export function parseConfig(raw: unknown): Config {
  const json = object(raw, "config.json");
  const gatewayUrl =
    json.gatewayUrl === undefined ? location.origin : string(json.gatewayUrl, "gatewayUrl").replace(/\/+$/, "");
  const signIn = object(json.signIn, "signIn");
  switch (signIn.kind) {
    case "demo": {
      if (!Array.isArray(signIn.customers) || signIn.customers.length === 0)
        throw new Error("config.json: signIn.customers must list at least one customer");
      const customers = signIn.customers.map((c: unknown, i: number) => {
        const o = object(c, `signIn.customers[${i}]`);
        return {
          id: string(o.id, `signIn.customers[${i}].id`),
          name: string(o.name, `signIn.customers[${i}].name`),
          token: string(o.token, `signIn.customers[${i}].token`),
        };
      });
      return { gatewayUrl, signIn: { kind: "demo", customers } };
    }
    case "oidc":
      return {
        gatewayUrl,
        signIn: {
          kind: "oidc",
          authority: string(signIn.authority, "signIn.authority").replace(/\/+$/, ""),
          clientId: string(signIn.clientId, "signIn.clientId"),
          scope: signIn.scope === undefined ? "openid" : string(signIn.scope, "signIn.scope"),
        },
      };
    default:
      throw new Error(`config.json: signIn.kind must be "demo" or "oidc"`);
  }
}

function object(value: unknown, what: string): Record<string, any> {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new Error(`config.json: ${what} must be an object`);
  return value as Record<string, any>;
}

function string(value: unknown, what: string): string {
  if (typeof value !== "string" || value === "") throw new Error(`config.json: ${what} must be a non-empty string`);
  return value;
}
