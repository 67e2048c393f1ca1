//! `server::run` owns what it starts (issue 12.6): the checker, the metrics upkeep and the shutdown timer run in its
//! task tracker, and it returns only once they have stopped, so nothing it began acts after it returned.

use crate::common;

use std::time::Duration;

use common::eventually;
use common::pool::chat_ok;
use common::serve::Setup;
use serde_json::json;

#[tokio::test(start_paused = true)]
async fn once_run_returns_nothing_it_started_is_still_running() {
    let mut s = Setup::in_process(
        &["a"],
        json!({"health_check_mode": "quota", "health_check_interval": "1s", "shutdown_grace": "5s"}),
    )
    .await;
    chat_ok(&s, "hello").await;
    let checked = eventually(Duration::from_secs(5), || async {
        s.proxy.logs().contains("Health check completed")
    })
    .await;
    assert!(checked, "no check round:\n{}", s.proxy.logs());

    s.proxy.stop().await.expect("the server stops cleanly");
    let at_return = s.proxy.logs();
    assert!(at_return.contains("server stopped"), "{at_return}");
    // Past the grace period, several check intervals and upkeep rounds: whatever was left running would act now.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let after = s.proxy.logs();
    assert_eq!(
        &after[at_return.len()..],
        "",
        "the server logged after it returned, so a task it started was still running"
    );
}
