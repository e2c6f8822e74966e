//! The full-mirror throughput figure of docs/performance.md: `jira-mirror backfill` against
//! the built-in simulator with a fixed latency added to every request, compared with the
//! request floor (requests × latency ÷ connections: what the run would take if every
//! connection slot were busy all the time and nothing else cost anything).
//!
//! ```sh
//! cargo build --release --bin jira-mirror --example bench_backfill
//! target/release/examples/bench_backfill                               # lean, 5,000 issues, 20 ms
//! target/release/examples/bench_backfill --full                        # plus JSM SLA and attachments
//! target/release/examples/bench_backfill --issues 2000 --latency-ms 0  # the simulator's own cost
//! ```
//! The simulator runs in this process; the mirror is the release binary next to this
//! example (`target/release/jira-mirror`), started as a child process on a fresh data
//! directory so its peak RSS is its own (`wait4`). Printed: wall time, requests per class
//! (main account, JSM account, attachment media host) and per issue, the peak number of
//! requests in flight per class as the simulator saw them, the mirror's peak RSS and, for
//! the main account, the floor and wall ÷ floor. The lean run has no `[jira_sla]` and
//! `download = false`; `--full` adds both. `--concurrency` sets `[jira] max_concurrency`
//! (4), `--rps` `max_requests_per_second` (generous by default, 10,000, so that only
//! latency and our own work count).

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use jira_mirror::simulator::{RequestRecord, SimConfig, Simulator, peak_in_flight};

#[derive(Debug)]
struct Args {
    issues: usize,
    latency_ms: u64,
    concurrency: usize,
    rps: f64,
    full: bool,
    keep: Option<PathBuf>,
}

fn args() -> Result<Args> {
    let mut a = Args {
        issues: 5_000,
        latency_ms: 20,
        concurrency: 4,
        rps: 10_000.0,
        full: false,
        keep: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--issues" => a.issues = value("--issues")?.parse()?,
            "--latency-ms" => a.latency_ms = value("--latency-ms")?.parse()?,
            "--concurrency" => a.concurrency = value("--concurrency")?.parse()?,
            "--rps" => a.rps = value("--rps")?.parse()?,
            "--keep" => a.keep = Some(value("--keep")?.into()),
            "--full" => a.full = true,
            other => bail!(
                "unknown argument {other}; usage: bench_backfill [--issues N] [--latency-ms L] \
                 [--concurrency C] [--rps R] [--full] [--keep DIR]"
            ),
        }
    }
    Ok(a)
}

fn main() -> Result<()> {
    let args = args()?;
    // The simulator gets its own runtime on two threads, as a server beside the mirror would.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let faults = jira_mirror::simulator::Faults {
        latency_ms: args.latency_ms,
        ..Default::default()
    };
    let sim = runtime.block_on(Simulator::start(SimConfig {
        issues: args.issues,
        big_issues: Vec::new(),
        hostile_attachments: false,
        faults,
        ..SimConfig::default()
    }))?;
    let cfg = sim.config();

    let tmp = tempfile::tempdir()?;
    let dir = args
        .keep
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let config_path = write_config(&args, &sim, &dir)?;

    let exe = std::env::current_exe()?;
    let binary = exe
        .parent()
        .and_then(|examples| examples.parent())
        .map(|profile| profile.join("jira-mirror"))
        .context("no folder above the example")?;
    if !binary.exists() {
        bail!(
            "{} is missing: cargo build --release --bin jira-mirror",
            binary.display()
        );
    }

    sim.clear_requests();
    let started = Instant::now();
    let child = Command::new(&binary)
        .arg("--config")
        .arg(&config_path)
        .arg("backfill")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let pid = child.id() as libc::pid_t;
    // Read its stderr meanwhile, so a chatty child never blocks on a full pipe.
    let reader = child.stderr.map(|mut e| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut e, &mut text);
            text
        })
    });
    let (status, max_rss_kib) = wait_with_rusage(pid)?;
    let wall = started.elapsed();
    let stderr = reader
        .map(|r| r.join().unwrap_or_default())
        .unwrap_or_default();
    if !status.success() {
        bail!("backfill failed ({status}):\n{stderr}");
    }

    report(&args, &sim.requests(), &cfg.sla_email, wall, max_rss_kib);
    runtime.block_on(sim.shutdown());
    Ok(())
}

/// Writes the mirror's config for the simulator into `dir`; returns its path.
fn write_config(args: &Args, sim: &Simulator, dir: &std::path::Path) -> Result<PathBuf> {
    let cfg = sim.config();
    let sla = if args.full {
        format!(
            "[jira_sla]\nbase_url = \"{}\"\nemail = \"{}\"\napi_token = \"{}\"\n\
             max_concurrency = {}\nmax_requests_per_second = {}\n",
            sim.base_url(),
            cfg.sla_email,
            cfg.sla_api_token,
            args.concurrency,
            args.rps,
        )
    } else {
        String::new()
    };
    let config = format!(
        "data_dir = \"data\"\n\n[jira]\nbase_url = \"{base}\"\ndeployment = \"cloud\"\nemail = \"{email}\"\n\
         api_token = \"{token}\"\njql = \"project = SUP\"\nmax_concurrency = {conc}\n\
         max_requests_per_second = {rps}\n\n{sla}\n[attachments]\ndownload = {full}\n\
         max_concurrency = {conc}\n",
        base = sim.base_url(),
        email = cfg.email,
        token = cfg.api_token,
        conc = args.concurrency,
        rps = args.rps,
        full = args.full,
    );
    let config_path = dir.join("jira-mirror.toml");
    std::fs::write(&config_path, config)?;
    Ok(config_path)
}

/// Prints the run's figures: wall time, peak RSS, and per request class the counts, the
/// concurrency reached and the answer times.
fn report(
    args: &Args,
    records: &[RequestRecord],
    sla_email: &str,
    wall: Duration,
    max_rss_kib: i64,
) {
    let main = |r: &&RequestRecord| r.host == "api" && r.user.as_deref() != Some(sla_email);
    let jsm = |r: &&RequestRecord| r.host == "api" && r.user.as_deref() == Some(sla_email);
    let media = |r: &&RequestRecord| r.host == "media";
    let classes: [(&str, Vec<&RequestRecord>); 3] = [
        ("main account", records.iter().filter(main).collect()),
        ("JSM account", records.iter().filter(jsm).collect()),
        ("media host", records.iter().filter(media).collect()),
    ];
    let issues = args.issues as f64;
    println!(
        "backfill of {} issues, latency {} ms, max_concurrency {}, {}",
        args.issues,
        args.latency_ms,
        args.concurrency,
        if args.full {
            "JSM SLA and attachments"
        } else {
            "lean (no SLA, no downloads)"
        }
    );
    println!(
        "wall {:.1} s, peak RSS {} MiB",
        wall.as_secs_f64(),
        max_rss_kib / 1024
    );
    for (name, rs) in &classes {
        if rs.is_empty() {
            continue;
        }
        let mut times: Vec<Duration> = rs.iter().map(|r| r.answered - r.at).collect();
        times.sort();
        let busy: Duration = times.iter().sum();
        let ms = |q: f64| times[((times.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
        println!(
            "{name:>13}: {} requests ({:.3}/issue), in flight: peak {}, mean {:.2}; \
             answered in p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms",
            rs.len(),
            rs.len() as f64 / issues,
            peak_in_flight(rs.iter().copied()),
            busy.as_secs_f64() / wall.as_secs_f64(),
            ms(0.5),
            ms(0.9),
            ms(1.0),
        );
    }
    if let (Some(first), Some(last)) = (
        records.iter().map(|r| r.at).min(),
        records.iter().map(|r| r.answered).max(),
    ) {
        let span = last - first;
        println!(
            "requests from first to last {:.1} s; before and after them (start-up, tables) {:.1} s",
            span.as_secs_f64(),
            (wall - span).as_secs_f64()
        );
    }
    let main_requests = classes[0].1.len() as f64;
    let floor = Duration::from_secs_f64(
        main_requests * args.latency_ms as f64 / 1000.0 / args.concurrency as f64,
    );
    if args.latency_ms > 0 {
        println!(
            "floor (main requests × {} ms ÷ {}) {:.1} s; wall ÷ floor {:.2}",
            args.latency_ms,
            args.concurrency,
            floor.as_secs_f64(),
            wall.as_secs_f64() / floor.as_secs_f64()
        );
    }
}

/// Waits for the child `pid`; returns its exit status and peak resident set (KiB).
fn wait_with_rusage(pid: libc::pid_t) -> Result<(std::process::ExitStatus, i64)> {
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid, and wait4 writes into the two out-pointers only.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if rc != pid {
        bail!("wait4: {}", std::io::Error::last_os_error());
    }
    Ok((std::process::ExitStatus::from_raw(status), usage.ru_maxrss))
}
