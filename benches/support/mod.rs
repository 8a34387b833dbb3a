//! What the benches share: the number of rounds and how figures are summarised.

use std::time::Duration;

/// `SOCKSPEC_BENCH_ROUNDS`, 5 by default.
pub fn rounds() -> usize {
    std::env::var("SOCKSPEC_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}
