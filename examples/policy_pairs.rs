//! The weakling policies alone on issue 6's fifteen trace/capacity pairs, against the issue's
//! floors: a quick loop for policy work (about 2 s on two cores, against about 30 s for the
//! full hit-rate tool, which also replays the peers, the two-tier cache and Belady).
//!
//! ```text
//! cargo run --release --example policy_pairs                       # every policy
//! cargo run --release --example policy_pairs -- adaptive s3-fifo   # some of them
//! cargo run --release --example policy_pairs -- --only OLTP        # the pairs of one trace
//! ```
//!
//! The floor of a pair is the larger of the best peer figure recorded in BENCHMARKS.md less
//! half a point and, on OLTP and P6, the ARC paper's figure (`hitrate/floors.rs`, which
//! `tests/cache_simulate.rs` checks against too). A figure below its floor is marked `!`.
//! The traces are read from `../shared/traces` or `$WEAKLING_TRACES`.

#[path = "hitrate/floors.rs"]
mod floors;
#[path = "hitrate/input.rs"]
mod input;

use std::process::ExitCode;
use std::sync::Mutex;

use weakling::cache::{simulate, Policy};

fn main() -> ExitCode {
    let mut policies = Vec::new();
    let mut only = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--only" {
            only = args.next();
        } else {
            match arg.parse::<Policy>() {
                Ok(p) => policies.push(p),
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    if policies.is_empty() {
        policies = Policy::ALL.to_vec();
    }
    let Some(dir) = input::traces_dir() else {
        eprintln!("no traces directory (../shared/traces or $WEAKLING_TRACES)");
        return ExitCode::FAILURE;
    };
    let pairs: Vec<(&str, u64, f64)> = floors::PEER_BEST
        .iter()
        .filter(|p| only.as_ref().is_none_or(|o| p.0.contains(o.as_str())))
        .map(|&(file, capacity, _)| {
            (file, capacity, floors::floor(file, capacity).expect("listed"))
        })
        .collect();
    let mut files: Vec<&str> = pairs.iter().map(|p| p.0).collect();
    files.dedup();
    let mut traces = Vec::new();
    for f in files {
        match input::load(&dir.join(f), None) {
            Ok(keys) => traces.push((f, keys)),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }

    // One job per pair and policy, the long P6 replays first, on two threads.
    let mut jobs: Vec<(usize, usize)> =
        (0..pairs.len()).flat_map(|i| (0..policies.len()).map(move |j| (i, j))).collect();
    jobs.sort_by_key(|&(i, _)| pairs[i].0.contains("P6"));
    let jobs = Mutex::new(jobs);
    let results = Mutex::new(vec![vec![0.0; policies.len()]; pairs.len()]);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let Some((i, j)) = jobs.lock().unwrap().pop() else { break };
                let (file, capacity, _) = pairs[i];
                let keys = &traces.iter().find(|t| t.0 == file).expect("loaded").1;
                let ratio = simulate::replay(keys, policies[j], capacity).hit_ratio();
                results.lock().unwrap()[i][j] = ratio;
            });
        }
    });
    let results = results.into_inner().unwrap();

    print!("| trace | C | floor |");
    for p in &policies {
        print!(" {p} |");
    }
    println!("\n|---|---:|---:|{}", "---:|".repeat(policies.len()));
    let mut sums = vec![0.0; policies.len()];
    let mut misses = vec![0; policies.len()];
    for (i, &(file, capacity, floor)) in pairs.iter().enumerate() {
        let name = input::stem(std::path::Path::new(file));
        print!("| {name} | {capacity} | {floor:.2} |");
        for (j, &r) in results[i].iter().enumerate() {
            sums[j] += r;
            let miss = r < floor;
            misses[j] += usize::from(miss);
            print!(" {r:.2}{} |", if miss { " !" } else { "" });
        }
        println!();
    }
    print!("| average, misses | | |");
    for j in 0..policies.len() {
        print!(" {:.2}, {} |", sums[j] / pairs.len() as f64, misses[j]);
    }
    println!();
    ExitCode::SUCCESS
}
