// Sign in: a demo customer (local), or the OIDC provider's login (production).

import { signInDemo, startOidc } from "../auth.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";
import type { Ctx } from "../main.js";

export function renderSignIn(ctx: Ctx, main: HTMLElement, message: string | undefined): void {
  const m = t();
  const returnTo = () => {
    const to = sessionStorage.getItem("cinema.returnTo");
    sessionStorage.removeItem("cinema.returnTo");
    return to && !to.startsWith("#/signin") ? to : "#/";
  };
  const problem = h("div", { class: "notice-slot" });
  const signIn = ctx.config.signIn;
  const body =
    signIn.kind === "demo"
      ? [
          h("p", { class: "muted" }, m.signInDemo),
          h(
            "ul",
            { class: "customers" },
            signIn.customers.map((customer) =>
              h(
                "li",
                null,
                h(
                  "button",
                  {
                    type: "button",
                    class: "customer",
                    "data-customer": customer.id,
                    "aria-label": m.signInAs(customer.name),
                    onclick: () => {
                      ctx.setSession(signInDemo(customer));
                      ctx.go(returnTo());
                    },
                  },
                  h("span", { class: "avatar", "aria-hidden": "true" }, [...customer.name][0] ?? "?"),
                  h("span", { class: "customer-name" }, customer.name),
                  h("span", { class: "customer-id" }, customer.id),
                ),
              ),
            ),
          ),
        ]
      : [
          h("p", { class: "muted" }, m.signInOidc),
          h(
            "button",
            {
              type: "button",
              class: "primary",
              onclick: () =>
                startOidc(signIn, sessionStorage.getItem("cinema.returnTo") ?? "#/").catch((e) => ctx.fail(problem, e)),
            },
            m.signInWith,
          ),
        ];
  replace(
    main,
    h(
      "section",
      { class: "card signin" },
      h("h1", null, m.signInTitle),
      message ? h("p", { class: "problem", role: "alert", "data-flash": "" }, message) : null,
      problem,
      body,
    ),
  );
}
