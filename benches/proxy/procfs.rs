//! What the kernel says about a process: CPU time from `/proc/PID/stat` and memory from `/proc/PID/status`.
//! Read as text, so no libc (the crate forbids `unsafe`).

use std::time::Duration;

use anyhow::Context as _;

/// Clock ticks per second of `utime`/`stime`, from `getconf CLK_TCK` (100 on nearly every Linux).
pub fn clock_ticks() -> anyhow::Result<u64> {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .context("run getconf CLK_TCK")?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .context("parse getconf CLK_TCK")
}

/// (utime, stime) of the whole process: user space and kernel (syscalls, network stack) apart.
pub fn cpu_split(pid: u32, ticks_per_sec: u64) -> anyhow::Result<(Duration, Duration)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("read /proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing `)`.
    let rest = stat
        .rfind(')')
        .map(|at| &stat[at + 1..])
        .context("malformed /proc/PID/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After `)`: field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    let at = |ticks: u64| Duration::from_nanos(ticks * 1_000_000_000 / ticks_per_sec);
    Ok((at(utime), at(stime)))
}

/// CPU time of the process's live threads to the nanosecond (the first field of each
/// `/proc/PID/task/TID/schedstat`). `/proc/PID/stat` counts in 10 ms ticks, too coarse for a process that spends
/// 20 µs per request over a few thousand requests; threads that have exited are not counted here.
pub fn cpu_precise(pid: u32) -> anyhow::Result<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .with_context(|| format!("read /proc/{pid}/task"))?
    {
        let Ok(stat) = std::fs::read_to_string(task?.path().join("schedstat")) else {
            continue; // the thread exited meanwhile
        };
        total += stat
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .context("malformed schedstat")?;
    }
    Ok(Duration::from_nanos(total))
}

/// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`), in bytes.
pub fn status_kb(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("read /proc/{pid}/status"))?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .with_context(|| format!("no {field} in /proc/{pid}/status"))?;
    let kb: u64 = line
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .with_context(|| format!("parse {field}"))?;
    Ok(kb * 1024)
}

/// The machine, for the report: CPU model, core count, memory.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or_else(
            || "?".into(),
            |kb| format!("{:.1} GiB", kb as f64 / 1048576.0),
        );
    format!("{cores} cores, {model}, {mem} RAM")
}
