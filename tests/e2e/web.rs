//! The customer's page, tested as a person would use it: `web/test/booking.test.mjs`
//! drives a real headless Chromium (Debian's `/usr/bin/chromium`, through playwright-core)
//! against a stack whose gateway serves the page: two customers book, watch the live seat
//! map, are refused each other's booking, cancel, and see a declined card's reason.
//! Screenshots of every step are kept in `<repo>/.cinema/artifacts/web/`.

use std::path::Path;

use anyhow::{Result, ensure};

use crate::sdk::{count_after, run_suite};

#[tokio::test(flavor = "multi_thread")]
async fn two_customers_book_watch_and_cancel_in_a_real_browser() -> Result<()> {
    ensure!(
        cinema_tests::web::is_built(&cinema_tests::web::dist_dir()),
        "web/dist is not built: npm run build -w web (cargo xtask test does)"
    );
    ensure!(Path::new("/usr/bin/chromium").exists(), "no /usr/bin/chromium (Debian: apt-get install chromium)");
    let artifacts = cinema_tests::repo_root().join(".cinema").join("artifacts").join("web");
    if artifacts.exists() {
        std::fs::remove_dir_all(&artifacts)?;
    }
    std::fs::create_dir_all(&artifacts)?;
    let printed = run_suite(
        Path::new("node"),
        &["--test", "--test-concurrency=1", "web/test/"],
        &[("CINEMA_ARTIFACTS", artifacts.display().to_string())],
    )
    .await?;
    let (passed, failed) = (count_after(&printed, "# pass"), count_after(&printed, "# fail"));
    ensure!(passed.is_some_and(|n| n >= 7) && failed == Some(0), "passed {passed:?}, failed {failed:?}:\n{printed}");
    let shots = std::fs::read_dir(&artifacts)?
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "png")))
        .count();
    ensure!(shots >= 7, "{shots} screenshots in {}", artifacts.display());
    eprintln!("browser test passed; {shots} screenshots in {}", artifacts.display());
    Ok(())
}
