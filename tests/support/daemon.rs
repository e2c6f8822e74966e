//! A running `jira-mirror run` for end-to-end tests: started with `-v` and its log in a
//! file beside the mirror, stopped with SIGTERM like systemd does (or killed on drop).

use std::path::PathBuf;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use jira_mirror::simulator::Simulator;

use super::{Mirror, wait_for};

/// A running `jira-mirror run`; killed if the test ends without [`Daemon::terminate`].
pub struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    pub fn start(mirror: &Mirror) -> Daemon {
        Daemon::start_with(mirror, &["run", "-v"])
    }

    /// Starts `jira-mirror <args>` (e.g. `run` at the default log level).
    pub fn start_with(mirror: &Mirror, args: &[&str]) -> Daemon {
        let log = mirror.data().with_extension("daemon.log");
        let file = std::fs::File::create(&log).expect("daemon log");
        let child = mirror
            .command(args)
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start run");
        Daemon { child, log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then the exit status (bounded wait).
    pub async fn terminate(mut self) -> ExitStatus {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) on our own child, not yet reaped.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(45);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "run did not exit within 45 s of SIGTERM\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Daemon {
    /// Still running?
    pub fn is_running(&mut self) -> bool {
        self.try_wait().is_none()
    }

    /// The exit status, if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("wait")
    }

    /// The process id, for signals.
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the mirror holds `key` at the simulator's current `updated`.
pub async fn wait_saved(sim: &Simulator, mirror: &Mirror, key: &str, within: Duration) -> bool {
    let truth = jira_mirror::json::DeepValue::new(sim.issue(key).unwrap());
    let updated = truth["fields"]["updated"].clone();
    wait_for(within, || {
        mirror
            .issue(key)
            .is_some_and(|i| i["fields"]["updated"] == updated)
    })
    .await
}
