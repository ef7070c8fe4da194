//! A MariaDB server of its own for failure drills: its own data folder
//! (made by `mariadb-install-db`), port and socket, started as a child process, so a test can stop
//! and restart it without touching the shared server on port 3306.
//!
//! [`PrivateMariaDb::start_tls`] starts one that, like RDS with `require_secure_transport`,
//! refuses connections without TLS: a throwaway CA and a server certificate for `127.0.0.1` and
//! `localhost` are made with the `openssl` command into the data folder.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A private `mariadbd`: `root` without a password on `127.0.0.1:{port}`.
#[derive(Debug)]
pub struct PrivateMariaDb {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
    tls: Option<TlsFiles>,
}

/// The certificate files of a TLS server, all PEM, in its data folder.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The throwaway CA that signed the server's certificate: what clients pass as `ssl-ca`.
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The privileges [`PrivateMariaDb::create_app_user`] grants: rows only, no DDL (CREATE, ALTER,
/// DROP, INDEX), as the application's login in production.
pub const APP_PRIVILEGES: &str = "SELECT, INSERT, UPDATE, DELETE";

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
        Self::start_with(false)
    }

    /// Like [`PrivateMariaDb::start`], with TLS and `--require-secure-transport=ON`: TCP
    /// connections without TLS are refused (the socket still counts as secure, which is how
    /// [`PrivateMariaDb::sql`] gets in). Needs the `openssl` command.
    pub fn start_tls() -> Result<Self, String> {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Result<Self, String> {
        let install = find(&["/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db"])
            .ok_or("mariadb-install-db not found: install mariadb-server (scripts/setup.sh)")?;
        let dir = std::env::temp_dir().join(format!(
            "private-mariadb-{}-{}",
            std::process::id(),
            free_port().map_err(|e| e.to_string())?
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        // Until `Self` exists (its drop removes the folder), a failure removes it here.
        let tls = match Self::prepare(&install, &dir, tls) {
            Ok(tls) => tls,
            Err(error) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(error);
            }
        };
        let mut db = Self {
            port: free_port().map_err(|e| e.to_string())?,
            dir,
            child: None,
            tls,
        };
        db.restart()?;
        Ok(db)
    }

    /// Makes the data folder and, for TLS, the certificates.
    fn prepare(install: &Path, dir: &Path, tls: bool) -> Result<Option<TlsFiles>, String> {
        let mut command = Command::new(install);
        command
            .arg("--no-defaults")
            .arg(format!("--datadir={}", dir.join("data").display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            // Grants by address, and no host name check: a machine whose names do not resolve
            // (no /etc/hosts, as in a debootstrap root) otherwise makes the tool refuse.
            .args(["--skip-name-resolve", "--force"])
            // Its own temporary folder: two installs at once in the shared /tmp have failed
            // ("Unknown table 'mysql.tmp_user_sys'").
            .arg(format!("--tmpdir={}", dir.display()));
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
        Ok(if tls {
            let certs = dir.join("certs");
            std::fs::create_dir_all(&certs).map_err(|e| format!("{}: {e}", certs.display()))?;
            let (ca, ca_key) = throwaway_ca(&certs, "ca")?;
            Some(server_certificate(&certs, &ca, &ca_key)?)
        } else {
            None
        })
    }

    /// `mysql://root@127.0.0.1:{port}/{database}`, with `?ssl-mode=VERIFY_IDENTITY&ssl-ca=CA`
    /// on a TLS server.
    pub fn url(&self, database: &str) -> String {
        self.url_as("root", "", database)
    }

    /// The URL for `user` (`password` may be empty), verifying the server's certificate against
    /// the CA on a TLS server. Neither may need percent-encoding (tests choose them).
    pub fn url_as(&self, user: &str, password: &str, database: &str) -> String {
        let login = if password.is_empty() {
            user.to_string()
        } else {
            format!("{user}:{password}")
        };
        let mut url = format!("mysql://{login}@127.0.0.1:{}/{database}", self.port);
        if let Some(tls) = &self.tls {
            url.push_str(&format!(
                "?ssl-mode=VERIFY_IDENTITY&ssl-ca={}",
                tls.ca.display()
            ));
        }
        url
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The certificate files, on a server started with [`PrivateMariaDb::start_tls`].
    pub fn tls(&self) -> Option<&TlsFiles> {
        self.tls.as_ref()
    }

    /// The server's data folder (removed on drop): a place for a test's own files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the server process is running (started and not stopped).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Creates a database with the `mariadb`/`mysql` client.
    pub fn create_database(&self, name: &str) -> Result<(), String> {
        self.sql(&format!("CREATE DATABASE IF NOT EXISTS `{name}`"))
    }

    /// Creates `user`@`127.0.0.1` with `password` and only [`APP_PRIVILEGES`] on `database`:
    /// the application's login, which cannot create or alter tables.
    pub fn create_app_user(
        &self,
        database: &str,
        user: &str,
        password: &str,
    ) -> Result<(), String> {
        self.sql(&format!(
            "CREATE USER IF NOT EXISTS '{user}'@'127.0.0.1' IDENTIFIED BY '{password}'; \
             GRANT {APP_PRIVILEGES} ON `{database}`.* TO '{user}'@'127.0.0.1'"
        ))
    }

    /// Runs SQL as root with the `mariadb`/`mysql` client over the server's socket (secure
    /// transport, so this works on a TLS-only server too). The SQL is the test's own.
    pub fn sql(&self, sql: &str) -> Result<(), String> {
        let client =
            find(&["/usr/bin/mariadb", "/usr/bin/mysql"]).ok_or("mariadb client not found")?;
        let output = Command::new(client)
            .arg("--no-defaults")
            .arg("-uroot")
            .arg(format!(
                "--socket={}",
                self.dir.join("mysqld.sock").display()
            ))
            .args(["-e", sql])
            .output()
            .map_err(|e| e.to_string())?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "`{sql}` failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ))
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
            .arg(format!("--tmpdir={}", self.dir.display()))
            .args(["--skip-log-bin", "--innodb-buffer-pool-size=16M"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(tls) = &self.tls {
            command
                .arg(format!("--ssl-ca={}", tls.ca.display()))
                .arg(format!("--ssl-cert={}", tls.cert.display()))
                .arg(format!("--ssl-key={}", tls.key.display()))
                .arg("--require-secure-transport=ON");
        }
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

/// Makes a self-signed CA (`{name}.pem`, key `{name}-key.pem`) in `dir` with the `openssl`
/// command, valid for two days: for a TLS server, or as the wrong CA a client is refused with.
/// Returns the certificate and key paths.
pub fn throwaway_ca(dir: &Path, name: &str) -> Result<(PathBuf, PathBuf), String> {
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}-key.pem"));
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-subj",
        &format!("/CN=footfall throwaway {name}"),
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout",
        path_str(&key)?,
        "-out",
        path_str(&cert)?,
    ])?;
    Ok((cert, key))
}

/// A server certificate for `127.0.0.1` (IP name) and `localhost`, signed by the CA.
fn server_certificate(dir: &Path, ca: &Path, ca_key: &Path) -> Result<TlsFiles, String> {
    let cert = dir.join("server-cert.pem");
    let key = dir.join("server-key.pem");
    let csr = dir.join("server.csr");
    let extensions = dir.join("server.ext");
    std::fs::write(
        &extensions,
        "subjectAltName = IP:127.0.0.1, DNS:localhost\n\
         basicConstraints = critical, CA:FALSE\n\
         keyUsage = critical, digitalSignature, keyEncipherment\n\
         extendedKeyUsage = serverAuth\n",
    )
    .map_err(|e| format!("{}: {e}", extensions.display()))?;
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        path_str(&key)?,
        "-out",
        path_str(&csr)?,
    ])?;
    openssl(&[
        "x509",
        "-req",
        "-in",
        path_str(&csr)?,
        "-CA",
        path_str(ca)?,
        "-CAkey",
        path_str(ca_key)?,
        "-CAcreateserial",
        "-CAserial",
        path_str(&dir.join("ca.srl"))?,
        "-days",
        "2",
        "-extfile",
        path_str(&extensions)?,
        "-out",
        path_str(&cert)?,
    ])?;
    Ok(TlsFiles {
        ca: ca.to_path_buf(),
        cert,
        key,
    })
}

fn openssl(args: &[&str]) -> Result<(), String> {
    let openssl =
        find(&["/usr/bin/openssl"]).ok_or("openssl not found: apt-get install openssl")?;
    let output = Command::new(&openssl)
        .args(args)
        .output()
        .map_err(|e| format!("{}: {e}", openssl.display()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "openssl {} failed: {}",
            args.first().copied().unwrap_or_default(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn path_str(path: &Path) -> Result<&str, String> {
    path.to_str()
        .ok_or_else(|| format!("{} is not UTF-8", path.display()))
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
