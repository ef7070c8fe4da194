//! A real SMTP server on loopback for alert tests: `python3 -m aiosmtpd` from the test venv
//! (scripts/setup.sh), delivering into a maildir the test reads back.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running aiosmtpd, killed on drop.
pub struct SmtpSink {
    child: Child,
    maildir: PathBuf,
    pub port: u16,
}

impl SmtpSink {
    /// Starts the server, delivering into `maildir`. Panics with what to install when it
    /// cannot start.
    pub fn start(maildir: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .expect("a free loopback port");
        let child = Command::new(crate::venv_tool("python3"))
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 must be installed to run the SMTP sink (scripts/setup.sh)");
        let sink = Self {
            child,
            maildir: maildir.to_path_buf(),
            port,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return sink;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "aiosmtpd did not start on port {port}: run scripts/setup.sh (it installs aiosmtpd into the venv)"
        );
    }

    /// `smtp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages delivered so far, sorted.
    pub fn messages(&self) -> Vec<String> {
        let new = self.maildir.join("new");
        let mut messages: Vec<String> = std::fs::read_dir(&new)
            .map(|entries| {
                entries
                    .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                    .collect()
            })
            .unwrap_or_default();
        messages.sort();
        messages
    }

    /// Waits up to five seconds for at least `n` messages; returns what arrived.
    pub fn wait_for(&self, n: usize) -> Vec<String> {
        for _ in 0..50 {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.messages()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP server that accepts and never says a word: what a plain `smtp://` URL meets on an
/// implicit-TLS port (465). Connections are held until the process ends. Returns its port.
pub fn silent_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = listener.local_addr().expect("its address").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    port
}
