//! The customer's page, tested as a person would use it: `web/test/booking.test.mjs`
//! drives a real headless Chromium (Debian's `/usr/bin/chromium`, through playwright-core)
//! against a stack whose gateway serves the page: two customers book, watch the live seat
//! map, are refused each other's booking, cancel, and see a declined card's reason.
//! Screenshots of every step are kept in `<repo>/.cinema/artifacts/web/`.

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use cinema_tests::{Stack, StackOptions};

#[tokio::test(flavor = "multi_thread")]
async fn two_customers_book_watch_and_cancel_in_a_real_browser() -> Result<()> {
    ensure!(
        cinema_tests::web::is_built(&cinema_tests::web::dist_dir()),
        "web/dist is not built: npm run build -w web (cargo xtask test does)"
    );
    ensure!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "no /usr/bin/chromium (Debian: apt-get install chromium)"
    );
    let stack = Stack::start(StackOptions::for_tests()).await?;
    let root = cinema_tests::repo_root();
    let artifacts = root.join(".cinema").join("artifacts").join("web");
    if artifacts.exists() {
        std::fs::remove_dir_all(&artifacts)?;
    }
    std::fs::create_dir_all(&artifacts)?;
    let mut command = tokio::process::Command::new("node");
    command
        .current_dir(root.join("web"))
        .args(["--test", "--test-concurrency=1", "test/"])
        .env("CINEMA_WEB_URL", stack.gateway_url())
        .env("CINEMA_ADMIN_TOKEN", stack.admin_token())
        .env("CINEMA_ARTIFACTS", &artifacts)
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(240), command.output())
        .await
        .context("the browser test ran over 4 minutes")?
        .context("running node (Debian: apt-get install nodejs)")?;
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    stack.shutdown().await?;
    ensure!(output.status.success(), "the browser test failed ({}):\n{printed}", output.status);
    let count = |label: &str| {
        printed.lines().find_map(|l| l.trim().strip_prefix(label).and_then(|n| n.trim().parse::<u32>().ok()))
    };
    ensure!(count("# pass").is_some_and(|n| n >= 7) && count("# fail") == Some(0), "{printed}");
    let shots = std::fs::read_dir(&artifacts)?
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "png")))
        .count();
    ensure!(shots >= 7, "{shots} screenshots in {}", artifacts.display());
    eprintln!("browser test passed; {shots} screenshots in {}", artifacts.display());
    Ok(())
}
