//! A MariaDB server of its own for failure drills: its own data folder
//! (made by `mariadb-install-db`), port and socket, started as a child process, so a test can stop
//! and restart it without touching the shared server on port 3306.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A private `mariadbd`: `root` without a password on `127.0.0.1:{port}`.
#[derive(Debug)]
pub struct PrivateMariaDb {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn find(candidates: &[&str]) -> Option<PathBuf> {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .or_else(|| {
            let name = Path::new(candidates[0]).file_name()?;
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|p| p.exists())
            })
        })
}

impl PrivateMariaDb {
    /// Creates a data folder under the temporary directory and starts the server on a free port.
    /// Errors name what is missing (Debian: `apt-get install mariadb-server`, as `scripts/setup.sh`
    /// does).
    pub fn start() -> Result<Self, String> {
        let install = find(&["/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db"])
            .ok_or("mariadb-install-db not found: install mariadb-server (scripts/setup.sh)")?;
        let dir = std::env::temp_dir().join(format!(
            "private-mariadb-{}-{}",
            std::process::id(),
            free_port().map_err(|e| e.to_string())?
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut command = Command::new(&install);
        command
            .arg("--no-defaults")
            .arg(format!("--datadir={}", dir.join("data").display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            // Grants by address, and no host name check: a machine whose names do not resolve
            // (no /etc/hosts, as in a debootstrap root) otherwise makes the tool refuse.
            .args(["--skip-name-resolve", "--force"]);
        // As root the server must be told to run as root (CI containers); otherwise it runs as
        // the current user anyway.
        if is_root() {
            command.arg("--user=root");
        }
        let output = command
            .output()
            .map_err(|e| format!("{}: {e}", install.display()))?;
        if !output.status.success() {
            // The tool explains itself on stdout as often as on stderr.
            return Err(format!(
                "mariadb-install-db failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let mut db = Self {
            port: free_port().map_err(|e| e.to_string())?,
            dir,
            child: None,
        };
        db.restart()?;
        Ok(db)
    }

    /// `mysql://root@127.0.0.1:{port}/{database}`.
    pub fn url(&self, database: &str) -> String {
        format!("mysql://root@127.0.0.1:{}/{database}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the server process is running (started and not stopped).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Creates a database with the `mariadb`/`mysql` client.
    pub fn create_database(&self, name: &str) -> Result<(), String> {
        let client =
            find(&["/usr/bin/mariadb", "/usr/bin/mysql"]).ok_or("mariadb client not found")?;
        let status = Command::new(client)
            .args(["-uroot", "-h127.0.0.1", &format!("-P{}", self.port)])
            .args(["-e", &format!("CREATE DATABASE IF NOT EXISTS `{name}`")])
            .status()
            .map_err(|e| e.to_string())?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("CREATE DATABASE {name} failed"))
        }
    }

    /// Stops the server the way an operator does (SIGTERM, clean shutdown) and waits for it.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let terminated = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if !terminated {
            let _ = child.kill();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts the server (again) on the same data folder and port; returns once it accepts
    /// connections.
    pub fn restart(&mut self) -> Result<(), String> {
        if self.child.is_some() {
            return Ok(());
        }
        let server = find(&["/usr/sbin/mariadbd", "/usr/sbin/mysqld"])
            .ok_or("mariadbd not found: install mariadb-server (scripts/setup.sh)")?;
        let mut command = Command::new(server);
        command
            .arg("--no-defaults")
            .arg(format!("--datadir={}", self.dir.join("data").display()))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .arg(format!(
                "--socket={}",
                self.dir.join("mysqld.sock").display()
            ))
            .arg(format!(
                "--pid-file={}",
                self.dir.join("mysqld.pid").display()
            ))
            .arg(format!(
                "--log-error={}",
                self.dir.join("error.log").display()
            ))
            .args(["--skip-log-bin", "--innodb-buffer-pool-size=16M"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if is_root() {
            command.arg("--user=root");
        }
        let child = command.spawn().map_err(|e| format!("mariadbd: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                let log = std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default();
                return Err(format!("mariadbd exited with {status}: {log}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "mariadbd did not listen on port {} within 30 s",
            self.port
        ))
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

impl Drop for PrivateMariaDb {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
