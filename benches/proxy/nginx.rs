//! The floor (issue 16): nginx as a pass-through reverse proxy in front of the same fake, configured the way a
//! byte-for-byte proxy is fastest: one process, keep-alive to the upstream, no buffering of the answer or the
//! request body, no access log. It forwards the upstream's own request and answer untranslated.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// A running nginx; killed when dropped.
pub struct NginxProcess {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

/// The `nginx` on PATH, if any (Debian: `apt-get install nginx-light`; it installs into /usr/sbin).
pub fn find() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join("nginx"))
        .find(|exe| exe.is_file())
}

impl NginxProcess {
    /// Starts nginx on a free port, proxying to `upstream_url` (`http://127.0.0.1:PORT`).
    pub fn start(exe: &std::path::Path, upstream_url: &str) -> anyhow::Result<NginxProcess> {
        let dir = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let upstream = upstream_url
            .strip_prefix("http://")
            .context("the fake's URL is not http://")?
            .trim_end_matches('/');
        let d = dir.path().display();
        // `master_process off`: the one process that serves is the one whose CPU is read (with a master, the
        // work happens in its single worker child). Temp paths and logs stay in the temp dir.
        let config = format!(
            r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    tcp_nodelay on;
    client_max_body_size 64m;
    upstream fake {{
        server {upstream};
        keepalive 256;
        keepalive_requests 1000000;
        keepalive_timeout 75s;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://fake;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_request_buffering off;
        }}
    }}
}}
"#
        );
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, config)?;
        let mut child = Command::new(exe)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("spawn nginx")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline || child.try_wait()?.is_some() {
                let _ = child.kill();
                let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
                anyhow::bail!("nginx did not start:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(NginxProcess {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for NginxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
