//! The `.env` file in the working directory: read once at start-up, before the command line is parsed, so its
//! values count as environment variables (a variable already set in the real environment wins).

use std::collections::BTreeMap;
use std::path::Path;

/// Loads `path` into the process environment. Returns a warning for the user when the file exists but could not be
/// read completely; a missing file is normal and says nothing.
///
/// Only the given file is read, never a `.env` in a parent directory: the seed reads the working directory's `.env`,
/// and a stray file higher up must not inject tokens.
///
/// Only a regular file of at most `DOTENV_MAX_BYTES` is read: a FIFO named `.env` would otherwise hang every
/// command, `--version` included.
pub fn load(path: &Path) -> Option<String> {
    let bytes = match super::regular_file::read(path, super::regular_file::DOTENV_MAX_BYTES) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return None,
        Err(err) => {
            return Some(format!(
                "{}: not read ({err}); its variables were ignored",
                path.display()
            ));
        }
    };
    match dotenvy::from_read(bytes.as_slice()) {
        Ok(()) => None,
        Err(err) => Some(describe(path, &err)),
    }
}

/// The file read from the working directory.
pub const FILE_NAME: &str = ".env";

/// Each variable `path` sets, with its line (from 1) and value: the first line wins, as when loading. For messages
/// that point at the line to fix; empty when the file is missing, odd or too big to be a `.env`.
pub fn lines(path: &Path) -> BTreeMap<String, (usize, String)> {
    let mut found = BTreeMap::new();
    let readable = std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() <= 1 << 20);
    let Some(text) = readable
        .then(|| std::fs::read_to_string(path).ok())
        .flatten()
    else {
        return found;
    };
    for (i, line) in text.lines().enumerate() {
        if let Some(Ok((key, value))) = dotenvy::from_read_iter(line.as_bytes()).next() {
            found.entry(key).or_insert((i + 1, value));
        }
    }
    found
}

/// Says what is wrong without quoting the line: a `.env` line usually holds a secret.
fn describe(path: &Path, err: &dotenvy::Error) -> String {
    match err {
        dotenvy::Error::LineParse(line, _) => {
            let key = line
                .split('=')
                .next()
                .map(str::trim)
                .filter(|k| {
                    !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                })
                .map(|k| format!("the line setting {k}"))
                .unwrap_or_else(|| "a line".to_string());
            format!(
                "{}: cannot parse {key}; it and the lines after it were ignored. \
Write lines as KEY=value, quoting values that contain spaces or #",
                path.display()
            )
        }
        other => format!(
            "{}: cannot read it ({other}); its variables were ignored",
            path.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parse_error_names_the_key_but_never_quotes_the_line() {
        let err = dotenvy::Error::LineParse("JWT_TOKENS=\"eyJsecret".into(), 11);
        let text = describe(Path::new(".env"), &err);
        assert!(
            text.starts_with(".env: cannot parse the line setting JWT_TOKENS"),
            "{text}"
        );
        assert!(!text.contains("eyJsecret"), "{text}");
        let err = dotenvy::Error::LineParse("garbage eyJsecret".into(), 7);
        let text = describe(Path::new(".env"), &err);
        assert!(text.contains("cannot parse a line"), "{text}");
        assert!(!text.contains("eyJsecret"), "{text}");
    }

    #[test]
    fn lines_name_where_each_variable_is_set() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(".env");
        std::fs::write(
            &path,
            "# comment\nJWT_TOKENS=a,b\n\nexport BEARER_TOKEN=\"k\"\nJWT_TOKENS=again\n",
        )
        .expect("write");
        let lines = lines(&path);
        assert_eq!(lines.get("JWT_TOKENS"), Some(&(2, "a,b".to_string())));
        assert_eq!(lines.get("BEARER_TOKEN"), Some(&(4, "k".to_string())));
        assert!(super::lines(&dir.path().join("missing")).is_empty());
    }

    #[test]
    fn a_missing_file_is_silent() {
        assert_eq!(load(Path::new("/nonexistent/jbproxy/.env")), None);
    }
}
