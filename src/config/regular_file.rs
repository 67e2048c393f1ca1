//! Reading the files jbproxy is pointed at (the config file, `.env`) only when they are regular files of a sane
//! size: a FIFO would hang every command on open, and a link to `/dev/zero` would be read until memory ran out.

use std::fs::Metadata;
use std::io::{self, Read};
use std::path::Path;

/// A config file is a few KB; even thousands of tokens stay far below this.
pub const CONFIG_MAX_BYTES: u64 = 4 * 1024 * 1024;
/// A `.env` file is a handful of lines.
pub const DOTENV_MAX_BYTES: u64 = 1024 * 1024;

/// What a path that is not a regular file is, for messages: "a directory", "a FIFO (named pipe)", ….
pub fn kind(meta: &Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// What `path` is when it exists and is not a regular file (symbolic links followed); `None` when it is a regular
/// file or absent.
pub fn irregular(path: &Path) -> Option<&'static str> {
    std::fs::metadata(path)
        .ok()
        .filter(|m| !m.is_file())
        .map(|m| kind(&m))
}

/// Reads `path` whole, refusing anything but a regular file of at most `max` bytes. The errors say what the path
/// is, or how large; a missing file keeps its `NotFound` kind.
pub fn read(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    // Checked before opening: opening a FIFO for reading blocks until some writer comes.
    let meta = std::fs::metadata(path)?;
    refuse(&meta, max)?;
    let file = std::fs::File::open(path)?;
    // Checked again on what was opened, in case the path was swapped meanwhile.
    refuse(&file.metadata()?, max)?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_large(max));
    }
    Ok(bytes)
}

fn refuse(meta: &Metadata, max: u64) -> io::Result<()> {
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("it is {}, not a regular file", kind(meta)),
        ));
    }
    if meta.len() > max {
        return Err(too_large(max));
    }
    Ok(())
}

fn too_large(max: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "it is larger than {} KiB, too large for this kind of file",
            max / 1024
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_or_an_oversized_file_is_refused_by_what_it_is() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = read(dir.path(), 1024).unwrap_err().to_string();
        assert!(err.contains("a directory, not a regular file"), "{err}");
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; 2048]).expect("write");
        let err = read(&big, 1024).unwrap_err().to_string();
        assert!(err.contains("larger than 1 KiB"), "{err}");
        assert_eq!(read(&big, 4096).expect("read").len(), 2048);
        let missing = read(&dir.path().join("none"), 1024).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }

    #[cfg(unix)]
    #[test]
    fn a_device_is_refused_without_reading_it() {
        let err = read(Path::new("/dev/zero"), 1024).unwrap_err().to_string();
        assert!(err.contains("a character device"), "{err}");
        assert_eq!(
            irregular(Path::new("/dev/null")),
            Some("a character device")
        );
    }
}
