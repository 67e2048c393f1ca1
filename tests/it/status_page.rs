//! The status page (`GET /ui`) in a real browser: headless Chromium over WebDriver (see `common/browser.rs`) against
//! a real `jbproxy serve` and the fake upstream. Log in, read the tokens, watch a 477 turn a row "out of quota",
//! disable a token from the keyboard and prove with the fake's call counts that it stops serving, see a broken
//! config's reload error, check the console stays clean and that markup in a token name stays text; then the
//! narrow layout, the dark theme and "server unreachable". Screenshots of each state go to `target/tmp/status_page/`.

use std::time::Duration;

use fantoccini::Locator;
use fantoccini::key::Key;
use serde_json::json;

use jbproxy::fake_upstream::Behaviour;

use crate::common::browser::{Browser, screenshot_dir};
use crate::common::pool::{chat_ok, config_path, stats, token};
use crate::common::serve::{KEY, Setup};

/// A token name that is also markup: it must show as these characters, and run nothing.
const MARKUP_NAME: &str = "<script>window.pwned=1</script><b>gamma</b>";
/// The page polls `/stats` this often (`REFRESH_MS` in app.js).
const REFRESH: Duration = Duration::from_secs(2);
/// One refresh, plus room for a loaded machine to fetch and render it.
const ONE_REFRESH: Duration = Duration::from_millis(3500);

/// The rendered text of the token row whose name reads `name`.
const ROW_TEXT: &str = "for (const tr of document.querySelectorAll('#tokens tbody tr')) {
  if (tr.querySelector('.name').textContent === arguments[0]) return tr.innerText;
} return null;";

async fn row_text(browser: &Browser, name: &str) -> String {
    browser
        .js(ROW_TEXT, vec![json!(name)])
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn wait_for_row(browser: &Browser, name: &str, needle: &str, timeout: Duration) -> String {
    browser
        .wait_until(
            &format!("row {name} showing {needle:?}"),
            timeout,
            ROW_TEXT,
            vec![json!(name)],
            |v| v.as_str().is_some_and(|t| t.contains(needle)),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn log_in(browser: &Browser, url: &str, key: &str) {
    browser.client.goto(url).await.expect("open /ui");
    browser
        .wait_until(
            "the login form",
            Duration::from_secs(10),
            "return !document.getElementById('login').hidden;",
            vec![],
            |v| v == &json!(true),
        )
        .await;
    let input = browser
        .client
        .find(Locator::Id("key"))
        .await
        .expect("key input");
    input.send_keys(key).await.expect("type the key");
    browser.click("#login-form button[type=submit]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_the_pool_and_its_actions_work() {
    let Some(mut browser) = Browser::start(1280, 900).await else {
        return;
    };
    let shots = screenshot_dir("status_page");
    let names = ["alpha", "beta", MARKUP_NAME];
    let mut s = Setup::start(&names, json!({})).await;
    // Each token serves once, so each has the quota (and its reset time) its stream reported.
    for i in 0..3 {
        chat_ok(&s, &format!("warm-up {i}")).await;
    }

    // The page before logging in, then logged in: three rows, in pool order, each name as plain text.
    browser.client.goto(&s.url("/ui")).await.expect("open /ui");
    browser
        .wait_until(
            "the login form",
            Duration::from_secs(10),
            "return !document.getElementById('login').hidden;",
            vec![],
            |v| v == &json!(true),
        )
        .await;
    browser.screenshot(&shots.join("1-login.png")).await;
    log_in(&browser, &s.url("/ui"), KEY).await;
    let shown = browser
        .wait_until(
            "three token rows",
            Duration::from_secs(10),
            "return Array.from(document.querySelectorAll('#tokens tbody .name')).map(e => e.textContent);",
            vec![],
            |v| v.as_array().is_some_and(|a| a.len() == 3),
        )
        .await;
    assert_eq!(shown, json!(names), "token names as the page shows them");
    let markup_ran = browser
        .js(
            "return [typeof window.pwned, document.querySelectorAll('#tokens tbody script, #tokens tbody b').length];",
            vec![],
        )
        .await;
    assert_eq!(
        markup_ran,
        json!(["undefined", 0]),
        "the markup name was parsed"
    );
    let key_in_page = browser
        .js(
            "return [document.documentElement.outerHTML.includes(arguments[0]), location.href.includes(arguments[0]), \
             sessionStorage.getItem('jbproxy.adminKey') === arguments[0]];",
            vec![json!(KEY)],
        )
        .await;
    assert_eq!(
        key_in_page,
        json!([false, false, true]),
        "the key must live in sessionStorage only: [in the DOM, in the URL, in sessionStorage]"
    );
    browser.screenshot(&shots.join("2-tokens.png")).await;

    // beta starts answering 477: once a request meets it, its row reads "out of quota until …" within one refresh.
    s.fake.set_behaviour("beta", Behaviour::QuotaExhausted);
    let before = s.fake.chat_requests_for("beta");
    let mut sent = 0;
    while s.fake.chat_requests_for("beta") == before {
        chat_ok(&s, "meet the 477").await;
        sent += 1;
        assert!(sent < 10, "no request reached beta");
    }
    assert_eq!(token(&stats(&s).await, "beta")["state"], "exhausted");
    let row = wait_for_row(&browser, "beta", "out of quota until", ONE_REFRESH).await;
    assert!(
        row.contains("failed: quota exhausted 1"),
        "failures by kind: {row}"
    );
    browser.screenshot(&shots.join("3-out-of-quota.png")).await;

    // Disable alpha from the keyboard alone: Tab to its Disable button, press Enter.
    browser
        .js(
            "document.activeElement.blur(); window.scrollTo(0, 0);",
            vec![],
        )
        .await;
    let mut reached = false;
    for _ in 0..80 {
        browser.press(Key::Tab).await;
        let focused = browser
            .js(
                "const e = document.activeElement; return [e.dataset.action || '', e.dataset.name || ''];",
                vec![],
            )
            .await;
        if focused == json!(["disable", "alpha"]) {
            reached = true;
            break;
        }
    }
    assert!(reached, "Tab never reached alpha's Disable button");
    browser.press(Key::Enter).await;
    wait_for_row(&browser, "alpha", "disabled by operator", ONE_REFRESH).await;
    assert!(
        browser
            .text("#action-result")
            .await
            .contains("alpha is disabled"),
        "{}",
        browser.text("#action-result").await
    );
    // It serves no more: the fake sees none of the next requests on alpha (beta is out, so the third takes them).
    let alpha_before = s.fake.chat_requests_for("alpha");
    let third_before = s.fake.chat_requests_for(MARKUP_NAME);
    for i in 0..6 {
        chat_ok(&s, &format!("after disabling {i}")).await;
    }
    assert_eq!(
        s.fake.chat_requests_for("alpha"),
        alpha_before,
        "alpha still served"
    );
    assert_eq!(s.fake.chat_requests_for(MARKUP_NAME), third_before + 6);
    let row = row_text(&browser, "alpha").await;
    assert!(
        row.contains("Enable"),
        "the button turns into Enable: {row}"
    );
    browser.screenshot(&shots.join("4-disabled.png")).await;

    // A broken config file: the reload is refused with the reason, and the running pool (alpha still out) stays.
    std::fs::write(config_path(&s), "{\n  \"jetbrains_tokens\": [,]\n}\n")
        .expect("break the config");
    browser.click("#reload").await;
    let result = browser
        .wait_until(
            "the reload error",
            Duration::from_secs(10),
            "return document.getElementById('action-result').innerText;",
            vec![],
            |v| v.as_str().is_some_and(|t| t.starts_with("Failed")),
        )
        .await;
    let result = result.as_str().unwrap_or_default();
    assert!(
        result.contains("config not reloaded") && result.contains("config.json:2"),
        "the 422 reason, naming the file and line: {result}"
    );
    wait_for_row(&browser, "alpha", "disabled by operator", ONE_REFRESH).await;
    browser.screenshot(&shots.join("5-reload-error.png")).await;

    // The charts draw once the server has closed a 10-second sample.
    browser
        .wait_until(
            "a request-rate line",
            Duration::from_secs(25),
            "return document.querySelectorAll('#c-rate path.line').length;",
            vec![],
            |v| v.as_u64().is_some_and(|n| n > 0),
        )
        .await;
    let models = browser.text("#models tbody").await;
    assert!(models.contains("gpt-4o"), "per-model counts: {models}");

    // Nothing went wrong in the page: the only console errors are the browser's own notes on the 422 answer.
    let console = browser.console().await;
    let unexpected: Vec<_> = console
        .iter()
        .filter(|e| e.level == "SEVERE" || e.level == "WARNING")
        .filter(|e| {
            !(e.source == "network" && e.message.contains("/reload") && e.message.contains("422"))
        })
        .collect();
    assert!(unexpected.is_empty(), "console errors: {unexpected:#?}");

    // 360 px wide: everything fits without sideways scrolling.
    browser
        .client
        .set_window_size(360, 800)
        .await
        .expect("narrow window");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let widths = browser
        .js(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await;
    let (scroll, inner) = (widths[0].as_u64(), widths[1].as_u64());
    assert!(
        scroll.is_some() && scroll <= inner,
        "wider than the window at 360 px: {widths}"
    );
    browser.screenshot(&shots.join("6-narrow.png")).await;

    // Dark when the system is dark, still every state in words.
    browser
        .client
        .set_window_size(1280, 900)
        .await
        .expect("wide window");
    let background = "return getComputedStyle(document.body).backgroundColor;";
    let light = browser.js(background, vec![]).await;
    browser
        .cdp(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]}),
        )
        .await;
    let dark = browser.js(background, vec![]).await;
    assert_eq!(
        (light, dark),
        (json!("rgb(247, 247, 248)"), json!("rgb(17, 19, 23)"))
    );
    assert!(row_text(&browser, "beta").await.contains("out of quota"));
    browser.screenshot(&shots.join("7-dark.png")).await;

    // The server goes away: the page says so, keeping the last data.
    s.proxy.signal("KILL");
    let _ = s.proxy.wait(Duration::from_secs(5));
    let banner = browser
        .wait_until(
            "the unreachable banner",
            REFRESH * 3,
            "const b = document.getElementById('banner'); return b.hidden ? '' : b.innerText;",
            vec![],
            |v| v.as_str().is_some_and(|t| t.contains("Server unreachable")),
        )
        .await;
    assert!(banner.as_str().is_some_and(|b| b.contains("last data")));
    assert!(!row_text(&browser, "beta").await.is_empty(), "rows kept");
    browser.screenshot(&shots.join("8-unreachable.png")).await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_refused_and_nothing_is_stored() {
    let Some(browser) = Browser::start(1000, 800).await else {
        return;
    };
    let s = Setup::start(&["alpha"], json!({})).await;
    log_in(&browser, &s.url("/ui"), "sk-not-the-key").await;
    let error = browser
        .wait_until(
            "the refusal",
            Duration::from_secs(10),
            "return document.getElementById('login-error').innerText;",
            vec![],
            |v| v.as_str().is_some_and(|t| !t.is_empty()),
        )
        .await;
    assert!(
        error.as_str().is_some_and(|e| e.contains("refused (401)")),
        "{error}"
    );
    let stored = browser
        .js(
            "return [sessionStorage.length, document.getElementById('key').value, document.getElementById('dash').hidden];",
            vec![],
        )
        .await;
    assert_eq!(stored, json!([0, "", true]));
    browser.close().await;
}

/// The demo as the README shows it: `serve --demo` prints the page's URL; log in there with the printed key.
/// With `JBPROXY_UPDATE_SCREENSHOT=1` the screenshot also replaces `docs/status-page.png` (after a minute of
/// traffic, so the charts have a shape).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_prints_the_page_url_and_the_page_shows_it() {
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let update_docs = std::env::var("JBPROXY_UPDATE_SCREENSHOT").is_ok_and(|v| v == "1");
    let dir = tempfile::tempdir().expect("tempdir");
    let args = ["serve", "--demo", "-p", "0"].map(String::from);
    let proxy = crate::common::proxy::Proxy::spawn(dir, &args, &[]);
    let out = proxy.stdout_with("Status page:");
    let url = out
        .lines()
        .find_map(|l| l.strip_prefix("Status page: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no page URL in the banner:\n{out}"))
        .to_string();
    assert_eq!(url, proxy.url("/ui"));
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("API key made up for this demo: "))
        .expect("the demo key")
        .to_string();

    // Some traffic over more than one 10-second sample, on two models, its pace changing every 15 s.
    let client = reqwest::Client::new();
    let traffic_for = if update_docs { 100 } else { 11 };
    let started = std::time::Instant::now();
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(traffic_for) {
        let model = if n % 3 == 0 {
            "claude-4-sonnet"
        } else {
            "gpt-4o"
        };
        let response = client
            .post(proxy.url("/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&json!({"model": model, "messages": [{"role": "user", "content": format!("hello {n}")}]}))
            .send()
            .await
            .expect("demo chat");
        assert_eq!(response.status(), 200);
        n += 1;
        let pace = [150, 60, 400, 100][(started.elapsed().as_secs() / 15 % 4) as usize];
        tokio::time::sleep(Duration::from_millis(pace)).await;
    }

    log_in(&browser, &url, &key).await;
    browser
        .wait_until(
            "the demo's tokens and a chart line",
            Duration::from_secs(25),
            "return [document.querySelectorAll('#tokens tbody tr').length, document.querySelectorAll('#c-rate path.line').length];",
            vec![],
            |v| v[0] == json!(3) && v[1].as_u64().is_some_and(|n| n > 0),
        )
        .await;
    let models = browser.text("#models tbody").await;
    assert!(
        models.contains("claude-4-sonnet") && models.contains("gpt-4o"),
        "{models}"
    );
    let shot = screenshot_dir("status_page").join("demo.png");
    browser.screenshot(&shot).await;
    if update_docs {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/status-page.png");
        std::fs::copy(&shot, &docs).expect("update docs/status-page.png");
    }
    browser.close().await;
}

/// Issue 15 (issue 17's deferred part): with the pool shared through Redis, the page lists the replicas and its
/// summary shows this replica's counters or every replica's, as chosen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_lists_the_replicas_and_sums_them_on_request() {
    let Some(redis) = crate::common::redis::RedisServer::start("status_page_replicas") else {
        return;
    };
    let Some(mut browser) = Browser::start(1280, 900).await else {
        return;
    };
    let fake = jbproxy::fake_upstream::FakeUpstream::start(Default::default())
        .await
        .expect("fake");
    let mut config = crate::common::serve::config_for(&fake, &["alpha", "beta"], json!({}));
    config["state"] = json!({"url": redis.url(), "prefix": "ui:"});
    let replicas = [
        crate::common::proxy::Proxy::start(&config, &[]),
        crate::common::proxy::Proxy::start(&config, &[]),
    ];
    let client = reqwest::Client::new();
    for (replica, n) in [(0, 2), (1, 3)] {
        for _ in 0..n {
            let response = client
                .post(replicas[replica].url("/v1/chat/completions"))
                .bearer_auth(KEY)
                .json(&crate::common::serve::user("hi"))
                .send()
                .await
                .expect("chat");
            assert_eq!(response.status(), 200);
        }
    }
    log_in(&browser, &replicas[0].url("/ui"), KEY).await;
    let listed = browser
        .wait_until(
            "two replicas listed",
            Duration::from_secs(10),
            "return document.querySelectorAll('#replicas tbody tr').length;",
            vec![],
            |v| v == &json!(2),
        )
        .await;
    assert_eq!(listed, json!(2));
    let requests = "return document.getElementById('t-requests').textContent;";
    assert_eq!(
        browser.js(requests, vec![]).await,
        json!("2"),
        "this replica's own"
    );
    browser
        .js(
            "const s = document.getElementById('scope'); s.value = 'cluster'; s.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await;
    // The other replica's counters come with its heartbeat (every second).
    browser
        .wait_until(
            "the summed requests",
            ONE_REFRESH * 2,
            requests,
            vec![],
            |v| v == &json!("5"),
        )
        .await;
    browser
        .screenshot(&screenshot_dir("status_page").join("replicas.png"))
        .await;
    browser
        .js(
            "const s = document.getElementById('scope'); s.value = 'replica'; s.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await;
    browser
        .wait_until(
            "this replica's requests",
            ONE_REFRESH,
            requests,
            vec![],
            |v| v == &json!("2"),
        )
        .await;
    assert!(browser.console().await.is_empty(), "console stays clean");
    browser.close().await;
}
