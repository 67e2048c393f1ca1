//! How commands print: tables that look the same on a terminal and in a pipe, and stdout writes that tolerate a
//! closed pipe (`jbproxy print-config | head`).

use std::io::{self, Write};

use comfy_table::{ContentArrangement, Table, presets};

/// A table in the house style: plain ASCII-safe borders, wrapped to the terminal when there is one.
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied());
    table
}

/// Writes text to stdout; a closed pipe is not an error the user needs to hear about.
pub fn print(text: impl std::fmt::Display) -> io::Result<()> {
    let mut out = io::stdout().lock();
    match writeln!(out, "{text}").and_then(|_| out.flush()) {
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// A count with its noun: "1 token", "2 tokens".
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Pretty JSON to stdout.
pub fn print_json(value: &serde_json::Value) -> io::Result<()> {
    print(serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()))
}

/// Writes a file holding secrets: mode 0600 from the moment it exists, and atomically (a temp file renamed into
/// place), so a failed write leaves any old file untouched.
pub fn write_secret_file(path: &std::path::Path, contents: &str) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = options.open(&tmp).and_then(|mut file| {
        file.write_all(contents.as_bytes())?;
        file.sync_all()
    });
    if let Err(err) = result.and_then(|_| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(err);
    }
    Ok(())
}
