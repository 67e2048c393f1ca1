//! The fake upstream in a process of its own (the bench binary re-run with `--fake`), so its CPU is not counted
//! as the proxy's and it does not share a runtime with the load generator.

use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;
use jbproxy::fake_upstream::{FakeOptions, FakeUpstream};

/// The answer every chat gets, split into `content_events` deltas: about the length of a short real answer.
pub const ANSWER: &str = "Rust's ownership model lets the compiler prove memory safety without a garbage \
collector: every value has one owner, borrows are checked for aliasing and lifetime at compile time, and \
resources are freed deterministically when their owner goes out of scope. The result is performance on par \
with C and C++ and a whole class of bugs that never reaches production.";

/// Runs the fake until standard input closes (the parent exited or dropped the pipe). Prints `URL <url>` first.
pub fn serve(content_events: usize, event_delay: Duration) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let fake = FakeUpstream::start(FakeOptions {
            content_events,
            event_delay,
            demo_text: Some(ANSWER.to_string()),
            // The floor's first byte is then the first content event, as the proxy's is.
            unknown_events: false,
            spent_per_chat: 0.0,
            record_requests: false,
            ..FakeOptions::default()
        })
        .await?;
        let mut out = std::io::stdout();
        writeln!(out, "URL {}", fake.url())?;
        out.flush()?;
        tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        })
        .await?;
        drop(fake);
        Ok(())
    })
}

/// A fake upstream child process; killed when dropped.
pub struct FakeProcess {
    pub child: Child,
    pub url: String,
}

impl FakeProcess {
    pub fn spawn(content_events: usize, event_delay: Duration) -> anyhow::Result<FakeProcess> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .args([
                "--fake".to_string(),
                content_events.to_string(),
                event_delay.as_millis().to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("spawn the fake upstream")?;
        let stdout = child.stdout.take().context("fake stdout")?;
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)?;
        let url = line
            .trim()
            .strip_prefix("URL ")
            .context("the fake upstream did not print its URL")?
            .to_string();
        Ok(FakeProcess { child, url })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for FakeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
