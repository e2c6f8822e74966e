//! A real Dovecot IMAP server per test, on 127.0.0.1 with free ports and everything (config,
//! users, mail, certificates, logs, sockets) in a temp dir that disappears with it.
//!
//! Two listeners: `imap` (plain, offering STARTTLS) and `imaps` (implicit TLS), both with a
//! leaf certificate signed by a throw-away CA generated at start ([`Dovecot::ca_file`]).
//! Dovecot must be installed (`apt-get install -y dovecot-imapd`, as `.ci/test` does); a
//! missing Dovecot fails the test, it is never skipped. Dropping a [`Dovecot`] stops it
//! (SIGTERM, then SIGKILL) and waits for it.
//!
//! The helpers talk IMAP through async-imap directly, not through the code under test.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use jira_mirror::config::ImapSecurity;
use jira_mirror::triggers::mail::imap::ImapSettings;

/// The Dovecot binary.
pub const DOVECOT: &str = "/usr/sbin/dovecot";
/// The test user's login name.
pub const USER: &str = "jira-notify@example.test";
/// The test user's password: a space, quotes and a backslash exercise IMAP quoting.
pub const PASSWORD: &str = r#"s3cret "pass\word" 42"#;

/// Bound of every wait of the harness itself (start-up, helper connections, shutdown).
const WAIT: Duration = Duration::from_secs(10);

/// Knobs for unusual servers.
#[derive(Debug, Clone, Default)]
pub struct DovecotOptions {
    /// Replaces the advertised capabilities (`imap_capability`), e.g. `"IMAP4rev1 UIDPLUS"` for
    /// a server without MOVE and IDLE. Only the advertisement changes, not the commands.
    pub capability: Option<String>,
}

/// A running Dovecot; stopped on drop.
pub struct Dovecot {
    dir: tempfile::TempDir,
    child: Child,
    /// Plain IMAP port (STARTTLS offered).
    pub imap_port: u16,
    /// Implicit-TLS IMAP port.
    pub imaps_port: u16,
}

impl Dovecot {
    /// Starts a Dovecot with the default options.
    pub fn start() -> Dovecot {
        Dovecot::start_with(DovecotOptions::default())
    }

    /// Starts a Dovecot; panics (with its log) if it does not accept connections within 10 s.
    pub fn start_with(options: DovecotOptions) -> Dovecot {
        assert!(
            Path::new(DOVECOT).exists(),
            "{DOVECOT} not found: install dovecot-imapd (bash .ci/test does: \
             apt-get update && apt-get install -y dovecot-imapd)"
        );
        let dir = tempfile::Builder::new()
            .prefix("dovecot-")
            .tempdir()
            .expect("temp dir");
        prepare_dir(dir.path());
        let mut last_log = String::new();
        for _attempt in 0..5 {
            let (imap_port, imaps_port) = free_ports();
            let config = config(dir.path(), imap_port, imaps_port, &options);
            std::fs::write(dir.path().join("dovecot.conf"), config).expect("write dovecot.conf");
            let output = std::fs::File::create(dir.path().join("stdout.log")).expect("stdout.log");
            let mut command = Command::new(DOVECOT);
            // SAFETY: prctl(2) is async-signal-safe; the closure allocates nothing.
            unsafe {
                // If the test process dies without dropping us (killed on timeout), Dovecot
                // gets SIGTERM instead of lingering. Tied to the spawning thread, which is the
                // test's own for the whole test.
                command.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                    Ok(())
                });
            }
            let mut child = command
                .arg("-F")
                .arg("-c")
                .arg(dir.path().join("dovecot.conf"))
                .stdin(Stdio::null())
                .stdout(output.try_clone().expect("clone log handle"))
                .stderr(output)
                .spawn()
                .unwrap_or_else(|error| panic!("cannot start {DOVECOT}: {error}"));
            match wait_ready(&mut child, dir.path(), imap_port, imaps_port) {
                Ok(()) => {
                    return Dovecot {
                        dir,
                        child,
                        imap_port,
                        imaps_port,
                    };
                }
                Err(log) => {
                    stop(&mut child);
                    // Another process may have taken a port between our probe and the bind.
                    if !log.contains("Address already in use") {
                        panic!("Dovecot did not start:\n{log}");
                    }
                    last_log = log;
                }
            }
        }
        panic!("Dovecot found no free ports in 5 attempts:\n{last_log}");
    }

    /// Settings for the test user over the plain listener (`security = none`, loopback).
    pub fn settings(&self) -> ImapSettings {
        plain_settings(self.imap_port)
    }

    /// Settings over implicit TLS, trusting the test CA.
    pub fn tls_settings(&self) -> ImapSettings {
        ImapSettings {
            port: self.imaps_port,
            security: ImapSecurity::Tls,
            ca_file: Some(self.ca_file()),
            ..self.settings()
        }
    }

    /// Settings over STARTTLS on the plain listener, trusting the test CA.
    pub fn starttls_settings(&self) -> ImapSettings {
        ImapSettings {
            security: ImapSecurity::StartTls,
            ca_file: Some(self.ca_file()),
            ..self.settings()
        }
    }

    /// PEM file of the CA that signed the server certificate (for `localhost` and 127.0.0.1).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Dovecot's log so far.
    pub fn log(&self) -> String {
        read_log(self.dir.path())
    }

    /// Appends a mail to `mailbox` (created if missing) with the given flags (e.g. `"\\Seen"`)
    /// and returns its UID.
    pub async fn append(&self, mailbox: &str, raw: &[u8], flags: &[&str]) -> u32 {
        bounded("APPEND", async {
            let mut imap = self.client().await;
            if !mailbox.eq_ignore_ascii_case("INBOX") {
                let _ = imap.create(mailbox).await;
            }
            let flags = (!flags.is_empty()).then(|| format!("({})", flags.join(" ")));
            imap.append(mailbox, flags.as_deref(), None, raw)
                .await
                .expect("APPEND");
            imap.select(mailbox).await.expect("SELECT");
            let uid = imap
                .uid_search("ALL")
                .await
                .expect("UID SEARCH")
                .into_iter()
                .max()
                .expect("the appended mail");
            imap.logout().await.expect("LOGOUT");
            uid
        })
        .await
    }

    /// Flags of one mail in `mailbox` (`\Seen`, `\Deleted`, keywords), `None` if the UID does
    /// not exist there.
    pub async fn flags_of(&self, mailbox: &str, uid: u32) -> Option<Vec<String>> {
        bounded("FETCH FLAGS", async {
            let mut imap = self.client().await;
            imap.select(mailbox).await.expect("SELECT");
            let fetches: Vec<_> = imap
                .uid_fetch(uid.to_string(), "(UID FLAGS)")
                .await
                .expect("UID FETCH")
                .try_collect()
                .await
                .expect("UID FETCH responses");
            let flags = fetches
                .iter()
                .find(|fetch| fetch.uid == Some(uid))
                .map(|fetch| fetch.flags().map(|flag| flag_name(&flag)).collect());
            imap.logout().await.expect("LOGOUT");
            flags
        })
        .await
    }

    /// All UIDs in `mailbox`, ascending (empty if it does not exist).
    pub async fn uids(&self, mailbox: &str) -> Vec<u32> {
        bounded("UID SEARCH ALL", async {
            let mut imap = self.client().await;
            if imap.select(mailbox).await.is_err() {
                return Vec::new();
            }
            let mut uids: Vec<u32> = imap
                .uid_search("ALL")
                .await
                .expect("UID SEARCH")
                .into_iter()
                .collect();
            uids.sort_unstable();
            imap.logout().await.expect("LOGOUT");
            uids
        })
        .await
    }

    /// UIDVALIDITY of `mailbox` as another client sees it.
    pub async fn uid_validity(&self, mailbox: &str) -> u32 {
        bounded("SELECT", async {
            let mut imap = self.client().await;
            let selected = imap.select(mailbox).await.expect("SELECT");
            imap.logout().await.expect("LOGOUT");
            selected.uid_validity.expect("UIDVALIDITY")
        })
        .await
    }

    /// A logged-in async-imap session over the plain listener (no mailbox selected).
    pub async fn client(&self) -> async_imap::Session<tokio::net::TcpStream> {
        bounded("login", async {
            let tcp = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, self.imap_port))
                .await
                .expect("connect to Dovecot");
            let mut client = async_imap::Client::new(tcp);
            client
                .read_response()
                .await
                .expect("greeting")
                .expect("greeting");
            client
                .login(USER, PASSWORD)
                .await
                .map_err(|(error, _)| error)
                .expect("LOGIN")
        })
        .await
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// Waits until both ports accept connections and the plain one greets.
fn wait_ready(
    child: &mut Child,
    dir: &Path,
    imap_port: u16,
    imaps_port: u16,
) -> Result<(), String> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Err(format!("Dovecot exited with {status}\n{}", read_log(dir)));
        }
        if greets(imap_port) && accepts(imaps_port) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "Dovecot did not accept connections within {WAIT:?}\n{}",
                read_log(dir)
            ));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// SIGTERM, up to 10 s for a clean exit, then SIGKILL; always reaps the process.
fn stop(child: &mut Child) {
    if child.try_wait().ok().flatten().is_some() {
        return;
    }
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
    // SAFETY: kill(2) on our own child, which has not been reaped yet (checked above), so the
    // pid cannot have been reused.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Dovecot's log file plus whatever it printed before opening it.
fn read_log(dir: &Path) -> String {
    let mut log = std::fs::read_to_string(dir.join("dovecot.log")).unwrap_or_default();
    let stdout = std::fs::read_to_string(dir.join("stdout.log")).unwrap_or_default();
    if !stdout.trim().is_empty() {
        let _ = write!(log, "\n--- stdout/stderr ---\n{stdout}");
    }
    log
}

/// Runs one harness step, panicking if it takes longer than [`WAIT`].
async fn bounded<T>(what: &str, step: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, step)
        .await
        .unwrap_or_else(|_| panic!("Dovecot harness: {what} took longer than {WAIT:?}"))
}

fn flag_name(flag: &async_imap::types::Flag<'_>) -> String {
    use async_imap::types::Flag;
    match flag {
        Flag::Seen => "\\Seen".to_owned(),
        Flag::Answered => "\\Answered".to_owned(),
        Flag::Flagged => "\\Flagged".to_owned(),
        Flag::Deleted => "\\Deleted".to_owned(),
        Flag::Draft => "\\Draft".to_owned(),
        Flag::Recent => "\\Recent".to_owned(),
        Flag::MayCreate => "\\*".to_owned(),
        Flag::Custom(name) => name.to_string(),
    }
}

/// Whether `port` greets with `* OK` within a second.
fn greets(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("* OK")
}

fn accepts(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

/// Two ports that were free a moment ago (bound together, then released).
fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
    let b = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
    let ports = (
        a.local_addr().expect("port").port(),
        b.local_addr().expect("port").port(),
    );
    drop((a, b));
    ports
}

/// Directories, the passwd file and the TLS files. Run as root, Dovecot refuses root for
/// login and mail processes, so those run as `dovenull`/`nobody`, which need to traverse
/// the temp dir and write the mail dir.
fn prepare_dir(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    };
    mode(dir, 0o755);
    for sub in ["run", "state"] {
        std::fs::create_dir(dir.join(sub)).expect("mkdir");
    }
    std::fs::create_dir(dir.join("mail")).expect("mkdir mail");
    mode(&dir.join("mail"), 0o777);
    // passwd-file: user:password:uid:gid:gecos:home:shell; uid/gid come from mail_uid/gid.
    std::fs::write(
        dir.join("passwd"),
        format!("{USER}:{{PLAIN}}{PASSWORD}::::::\n"),
    )
    .expect("write passwd");

    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "jira-mirror test CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA certificate");
    let leaf_key = rcgen::KeyPair::generate().expect("server key");
    let mut leaf_params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("server params");
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let leaf = leaf_params
        .signed_by(&leaf_key, &ca)
        .expect("server certificate");
    std::fs::write(dir.join("ca.pem"), ca.as_ref().pem()).expect("write ca.pem");
    std::fs::write(dir.join("cert.pem"), leaf.pem()).expect("write cert.pem");
    std::fs::write(dir.join("key.pem"), leaf_key.serialize_pem()).expect("write key.pem");
}

/// The whole Dovecot configuration: nothing from /etc/dovecot is read.
fn config(dir: &Path, imap_port: u16, imaps_port: u16, options: &DovecotOptions) -> String {
    let d = dir.display();
    let root = is_root();
    let (internal_user, login_user, mail_user, mail_group) = if root {
        let login = if user_exists("dovenull") {
            "dovenull"
        } else {
            "nobody"
        };
        (
            "root".to_owned(),
            login.to_owned(),
            "nobody".to_owned(),
            nobody_group(),
        )
    } else {
        let me = current_user();
        (me.clone(), me.clone(), me.clone(), current_group())
    };
    let capability = options
        .capability
        .as_deref()
        .map(|caps| format!("protocol imap {{\n  imap_capability = {caps}\n}}\n"))
        .unwrap_or_default();
    format!(
        r#"# Generated by tests/support/dovecot.rs
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
instance_name = jira-mirror-test-{imap_port}
protocols = imap
listen = 127.0.0.1
# No stats service: on shutdown, processes would wait 5 s for its handshake.
stats_writer_socket_path =
ssl = yes
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal_user}
default_internal_group = {internal_user_group}
default_login_user = {login_user}
first_valid_uid = 0
first_valid_gid = 0
mail_uid = {mail_user}
mail_gid = {mail_group}
mail_location = maildir:{d}/mail/%u
# How often an idling session looks at the mailbox besides its change notifications (30 s by
# default). A notification Dovecot misses (an append racing the start of IDLE, or inotify
# instances exhausted by many servers at once) then costs a second, not 30 s, in tests that
# wait 30 s for a mail to arrive.
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/passwd
  default_fields = home={d}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
{capability}"#,
        internal_user_group = if root {
            "root".to_owned()
        } else {
            current_group()
        },
    )
}

fn is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn user_exists(name: &str) -> bool {
    std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .any(|line| line.split(':').next() == Some(name))
}

fn nobody_group() -> String {
    let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let exists = |name: &str| {
        groups
            .lines()
            .any(|line| line.split(':').next() == Some(name))
    };
    if exists("nogroup") {
        "nogroup"
    } else {
        "nobody"
    }
    .to_owned()
}

fn current_user() -> String {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    lookup_name("/etc/passwd", uid).unwrap_or_else(|| uid.to_string())
}

fn current_group() -> String {
    // SAFETY: getegid(2) has no preconditions and cannot fail.
    let gid = unsafe { libc::getegid() };
    lookup_name("/etc/group", gid).unwrap_or_else(|| gid.to_string())
}

/// The name for a numeric id in an /etc/passwd-style file.
fn lookup_name(file: &str, id: u32) -> Option<String> {
    std::fs::read_to_string(file)
        .ok()?
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            (fields.nth(1)?.parse::<u32>().ok()? == id).then(|| name.to_owned())
        })
}

/// Plain IMAP to `port` on 127.0.0.1 as the test user, `INBOX`, a 5 s network bound.
pub fn plain_settings(port: u16) -> ImapSettings {
    ImapSettings {
        host: "127.0.0.1".to_owned(),
        port,
        security: ImapSecurity::None,
        username: USER.to_owned(),
        password: PASSWORD.to_owned(),
        mailbox: "INBOX".to_owned(),
        ca_file: None,
        timeout: Duration::from_secs(5),
    }
}
