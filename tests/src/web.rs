//! The customer's page as a local gateway serves it: the files `npm run build -w web`
//! writes to `web/dist/`, and a `config.json` that lets a visitor sign in as one of the
//! demo customers with a token from the stack's dev issuer (production sets an OIDC
//! provider there instead; see `web/README.md`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};

use crate::auth::{Claims, DevIssuer};
use crate::gateway::WebFiles;

/// The demo customers the page offers: (id, name).
pub const DEMO_CUSTOMERS: [(&str, &str); 3] = [("kim", "김민준"), ("lee", "이서연"), ("park", "박지호")];

/// How long the demo customers' tokens last (the page asks to sign in again after).
pub const DEMO_TOKEN_TTL: Duration = Duration::from_secs(12 * 3600);

/// Where the page is built: `<repo>/web/dist`.
pub fn dist_dir() -> PathBuf {
    crate::repo_root().join("web").join("dist")
}

/// Whether the page was built (the gateway serves it only then).
pub fn is_built(dist: &Path) -> bool {
    ["index.html", "app.js", "app.css"].iter().all(|f| dist.join(f).is_file())
}

/// The page's files, with a `config.json` for `issuer`'s demo customers written under
/// `dir`; `None` when the page was not built.
pub fn files(dir: &Path, issuer: &DevIssuer) -> Result<Option<WebFiles>> {
    let dist = dist_dir();
    if !is_built(&dist) {
        return Ok(None);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let config = dir.join("config.json");
    std::fs::write(&config, demo_config(issuer).to_string())
        .with_context(|| format!("writing {}", config.display()))?;
    Ok(Some(WebFiles { dist, config }))
}

/// `{"signIn": {"kind": "demo", "customers": [{"id", "name", "token"}]}}`: the page is on
/// the gateway's own origin, so it names no gateway URL.
pub fn demo_config(issuer: &DevIssuer) -> serde_json::Value {
    let customers: Vec<serde_json::Value> = DEMO_CUSTOMERS
        .iter()
        .map(|(id, name)| {
            let token = issuer.sign(&Claims::new(id).ttl(DEMO_TOKEN_TTL));
            serde_json::json!({ "id": id, "name": name, "token": token })
        })
        .collect();
    serde_json::json!({ "signIn": { "kind": "demo", "customers": customers } })
}
