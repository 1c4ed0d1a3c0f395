//! The hit-rate tool: how often each cache would have hit, on synthetic workloads or on real
//! traces, next to LRU, the peers and Belady's optimum.
//!
//! ```text
//! cargo run --release --example hitrate                      # the built-in workloads
//! cargo run --release --example hitrate -- -c 1000,2000 ../shared/traces/arc/OLTP.lis.zst
//! cargo run --release --example hitrate -- --shared-traces   # the traces README's table
//! ```
//!
//! For each workload and capacity it prints a Markdown table of hit ratios (percent) for
//! every weakling policy, the two-tier cache (default policy) under the holding model (each
//! request keeps its object for the next `k` requests, so an object evicted from the strong
//! tier but still held is a weak-tier hit), moka and quick_cache (the real crates, sync API,
//! one thread: `get`, then `insert` on a miss) and Belady's offline optimum. It writes an SVG
//! chart of hit ratio against capacity, and reports progress on stderr.
//!
//! Trace files: ARC `.lis`, LIRS text (`*` lines skipped), one decimal key per line, or
//! cache2k's big-endian 32-bit binary; plain, gzip, xz or zstd, detected from the content.

#[path = "hitrate/chart.rs"]
mod chart;
#[path = "hitrate/input.rs"]
mod input;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use weakling::cache::simulate::{self, Simulator, TwoTierSimulator};
use weakling::cache::trace::TraceFormat;
use weakling::cache::{workload, Policy};

const USAGE: &str = "\
usage: hitrate [options] [trace files...]

Replays the built-in workloads (no files) or the named trace files and prints hit ratios.

options:
  -c, --capacities LIST  comma-separated capacities in entries (default: per workload)
  -k, --hold K           requests each request holds its object, for the two-tier column
                         (default 1000)
  -n, --requests N       requests per built-in workload (default 1000000)
      --svg PATH         where to write the chart (default target/hitrate.svg)
      --format F         force the trace format: arc, lines or cache2k
      --shared-traces    every trace and capacity of ../shared/traces/README.md's table
                         (or of $WEAKLING_TRACES), skipping absent files
      --no-peers         leave out moka and quick_cache
  -q, --quiet            no progress on stderr
  -h, --help             this text";

/// The traces README's table: file and capacities.
const SHARED_TABLE: &[(&str, &[u64])] = &[
    ("arc/OLTP.lis.zst", &[1_000, 2_000, 5_000, 10_000, 15_000]),
    ("arc/P6.lis.zst", &[32_768]),
    ("lirs/gli.trace.gz", &[1_000, 2_000]),
    ("lirs/loop.trace.gz", &[1_000, 1_250]),
    ("lirs/2_pools.trace.gz", &[1_000]),
    ("lirs/sprite.trace.gz", &[500]),
    ("cache2k/web07.trace.xz", &[1_000]),
    ("cache2k/web12.trace.xz", &[1_200]),
    ("cloudphysics/cloudPhysicsIO.txt", &[5_000]),
];

struct Options {
    capacities: Option<Vec<u64>>,
    hold: u64,
    requests: usize,
    svg: PathBuf,
    format: Option<TraceFormat>,
    shared: bool,
    peers: bool,
    quiet: bool,
    files: Vec<PathBuf>,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut o = Options {
        capacities: None,
        hold: 1000,
        requests: 1_000_000,
        svg: Path::new(env!("CARGO_MANIFEST_DIR")).join("target/hitrate.svg"),
        format: None,
        shared: false,
        peers: true,
        quiet: false,
        files: Vec::new(),
    };
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "-c" | "--capacities" => {
                let list = value(&arg)?;
                let caps = list
                    .split(',')
                    .map(|c| c.trim().replace('_', "").parse::<u64>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| format!("--capacities: `{list}` is not a list of integers"))?;
                if caps.is_empty() || caps.contains(&0) {
                    return Err("--capacities: capacities must be positive".into());
                }
                o.capacities = Some(caps);
            }
            "-k" | "--hold" => {
                let v = value(&arg)?;
                o.hold = v.parse().map_err(|_| format!("--hold: `{v}` is not an integer"))?;
            }
            "-n" | "--requests" => {
                let v = value(&arg)?;
                o.requests = v
                    .replace('_', "")
                    .parse()
                    .map_err(|_| format!("--requests: `{v}` is not an integer"))?;
            }
            "--svg" => o.svg = PathBuf::from(value(&arg)?),
            "--format" => {
                o.format = Some(match value(&arg)?.as_str() {
                    "arc" => TraceFormat::Arc,
                    "lines" | "lirs" => TraceFormat::Lines,
                    "cache2k" => TraceFormat::Cache2k,
                    other => return Err(format!("--format: unknown format `{other}`")),
                })
            }
            "--shared-traces" => o.shared = true,
            "--no-peers" => o.peers = false,
            "-q" | "--quiet" => o.quiet = true,
            flag if flag.starts_with('-') => return Err(format!("unknown option `{flag}`")),
            _ => o.files.push(PathBuf::from(arg)),
        }
    }
    Ok(Some(o))
}

struct Workload {
    name: String,
    keys: Vec<u64>,
    capacities: Vec<u64>,
}

fn unique(keys: &[u64]) -> usize {
    let mut set = std::collections::HashSet::with_capacity(keys.len() / 4);
    keys.iter().filter(|k| set.insert(**k)).count()
}

/// Progress on stderr: one line per column, with a percentage on long replays.
struct Progress {
    quiet: bool,
}

impl Progress {
    fn replay(&self, label: &str, keys: &[u64], mut step: impl FnMut(u64) -> bool) -> f64 {
        const CHUNK: usize = 2_000_000;
        let long = keys.len() > CHUNK;
        if !self.quiet && long {
            eprint!("  {label}:");
        }
        let mut hits = 0u64;
        for (i, chunk) in keys.chunks(CHUNK).enumerate() {
            hits += chunk.iter().map(|&k| u64::from(step(k))).sum::<u64>();
            if !self.quiet && long {
                eprint!(" {}%", (i + 1) * CHUNK.min(keys.len()) * 100 / keys.len());
                let _ = std::io::stderr().flush();
            }
        }
        if !self.quiet && long {
            eprintln!();
        }
        if keys.is_empty() {
            0.0
        } else {
            100.0 * hits as f64 / keys.len() as f64
        }
    }

    fn note(&self, text: &str) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }
}

/// Column names, in table order.
fn columns(o: &Options) -> Vec<String> {
    let mut cols: Vec<String> = Policy::ALL.iter().map(|p| p.name().to_string()).collect();
    cols.push(format!("two-tier k={}", o.hold));
    if o.peers {
        cols.push("moka".into());
        cols.push("quick_cache".into());
    }
    cols.push("belady".into());
    cols
}

/// Every column's hit ratio at one capacity.
fn measure(w: &Workload, capacity: u64, o: &Options, progress: &Progress) -> Vec<f64> {
    let keys = &w.keys;
    let mut row = Vec::new();
    for policy in Policy::ALL {
        let mut sim = Simulator::new(policy, capacity);
        row.push(progress.replay(policy.name(), keys, |k| sim.access(k)));
    }
    let mut two = TwoTierSimulator::new(Policy::default(), capacity, o.hold);
    row.push(progress.replay("two-tier", keys, |k| two.access(k) != simulate::Served::Miss));
    if o.peers {
        let moka: moka::sync::Cache<u64, ()> =
            moka::sync::Cache::builder().max_capacity(capacity).build();
        row.push(progress.replay("moka", keys, |k| {
            let hit = moka.get(&k).is_some();
            if !hit {
                moka.insert(k, ());
            }
            hit
        }));
        let quick: quick_cache::sync::Cache<u64, ()> =
            quick_cache::sync::Cache::new(usize::try_from(capacity).unwrap_or(usize::MAX));
        row.push(progress.replay("quick_cache", keys, |k| {
            let hit = quick.get(&k).is_some();
            if !hit {
                quick.insert(k, ());
            }
            hit
        }));
    }
    row.push(simulate::belady(keys, capacity).hit_ratio());
    row
}

fn workloads(o: &Options, progress: &Progress) -> Result<Vec<Workload>, String> {
    let mut out = Vec::new();
    let mut add_file = |path: &Path, caps: Option<&[u64]>| -> Result<(), String> {
        progress.note(&format!("reading {}", path.display()));
        let keys = input::load(path, o.format)?;
        let capacities = match (&o.capacities, caps) {
            (Some(c), _) => c.clone(),
            (None, Some(c)) => c.to_vec(),
            (None, None) => {
                // A spread of sizes relative to the trace's working set.
                let n = unique(&keys) as u64;
                let mut c: Vec<u64> =
                    [1, 2, 5, 10, 20].iter().map(|pct| (n * pct / 100).max(1)).collect();
                c.dedup();
                c
            }
        };
        out.push(Workload { name: input::stem(path), keys, capacities });
        Ok(())
    };
    if o.shared {
        let dir = input::traces_dir()
            .ok_or("--shared-traces: no ../shared/traces or $WEAKLING_TRACES")?;
        for (file, caps) in SHARED_TABLE {
            let path = dir.join(file);
            if path.exists() {
                add_file(&path, Some(caps))?;
            } else {
                progress.note(&format!("skipped: {} is absent", path.display()));
            }
        }
    }
    for f in &o.files {
        add_file(f, None)?;
    }
    if out.is_empty() {
        let caps = o.capacities.clone().unwrap_or_else(|| vec![100, 300, 1_000, 3_000]);
        let n = o.requests;
        out.push(Workload {
            name: "zipf-0.8".into(),
            keys: workload::zipf(10_000, 0.8, n, 0x5eed),
            capacities: caps.clone(),
        });
        out.push(Workload {
            name: "zipf-1.0".into(),
            keys: workload::zipf(10_000, 1.0, n, 0x5eed),
            capacities: caps.clone(),
        });
        out.push(Workload {
            name: "scan-mix".into(),
            keys: workload::scan_mix(n, 0x5eed),
            capacities: caps,
        });
    }
    Ok(out)
}

fn run(o: &Options) -> Result<(), String> {
    let progress = Progress { quiet: o.quiet };
    let started = Instant::now();
    let cols = columns(o);
    let mut panels = Vec::new();
    let mut stdout = std::io::stdout().lock();
    for w in workloads(o, &progress)? {
        let _ = writeln!(
            stdout,
            "\n## {}: {} requests, {} keys\n",
            w.name,
            w.keys.len(),
            unique(&w.keys)
        );
        let _ = writeln!(stdout, "| capacity | {} |", cols.join(" | "));
        let _ = writeln!(stdout, "|---:|{}", "---:|".repeat(cols.len()));
        let mut series: Vec<chart::Series> =
            cols.iter().map(|c| chart::Series { name: c.clone(), points: Vec::new() }).collect();
        for &capacity in &w.capacities {
            progress.note(&format!("{} C={capacity}", w.name));
            let row = measure(&w, capacity, o, &progress);
            let cells: Vec<String> = row.iter().map(|r| format!("{r:.2}")).collect();
            let _ = writeln!(stdout, "| {capacity} | {} |", cells.join(" | "));
            let _ = stdout.flush();
            for (s, r) in series.iter_mut().zip(row) {
                s.points.push(r);
            }
        }
        panels.push(chart::Panel {
            title: format!("{} ({} requests)", w.name, w.keys.len()),
            capacities: w.capacities.clone(),
            series,
        });
    }
    if let Some(dir) = o.svg.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(&o.svg, chart::render(&panels))
        .map_err(|e| format!("{}: {e}", o.svg.display()))?;
    let _ = writeln!(stdout, "\nchart: {}", o.svg.display());
    progress.note(&format!("done in {:.1} s", started.elapsed().as_secs_f64()));
    Ok(())
}

fn main() -> ExitCode {
    match parse_args(std::env::args().skip(1)) {
        Ok(None) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Some(o)) => match run(&o) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("hitrate: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("hitrate: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
