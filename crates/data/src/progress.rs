//! Progress of long work: a bar (or spinner) on a terminal, and plain lines where nobody watches
//! one. indicatif hides its bars when stderr is not a terminal (a CI log, `nohup`, a file), so
//! there every long phase prints one line every [`plain_interval`] instead: what, done/total, rate,
//! time left, time spent.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle, WeakProgressBar};

/// The variable that sets the seconds between plain progress lines (default 10; `0` turns them
/// off).
pub const PROGRESS_SECS_VAR: &str = "QDRANT_PERF_PROGRESS_SECS";

/// How often a phase prints a plain line when stderr is not a terminal: every 10 s, or
/// `$QDRANT_PERF_PROGRESS_SECS` (fractions allowed; `0` for never). `None` when stderr is a
/// terminal (the bar shows there) or the lines are turned off.
pub fn plain_interval() -> Option<Duration> {
    if std::io::stderr().is_terminal() {
        return None;
    }
    let secs = match std::env::var(PROGRESS_SECS_VAR) {
        Ok(v) if !v.trim().is_empty() => match v.trim().parse::<f64>() {
            Ok(s) if s.is_finite() && s >= 0.0 => s,
            _ => {
                eprintln!(
                    "warning: {PROGRESS_SECS_VAR}={v:?} is not a number of seconds; \
                     printing progress every 10 s"
                );
                10.0
            }
        },
        _ => 10.0,
    };
    (secs > 0.0).then(|| Duration::from_secs_f64(secs))
}

/// A progress bar on stderr for a long setup step (generation, ground truth, upload, index
/// build) of `len` units; plain lines instead when stderr is not a terminal.
pub fn progress_bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>28} [{elapsed_precise}] {bar:40.cyan/blue} {human_pos}/{human_len} ({per_sec}, eta {eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    plain_lines(&bar);
    bar
}

/// A spinner for a phase whose size is unknown (an index build, a wait for the server, a load
/// run): its message says where the phase is; plain lines of that message when stderr is not a
/// terminal.
pub fn spinner(what: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
    bar.set_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    plain_lines(&bar);
    bar
}

/// Where stderr is not a terminal, a thread that prints [`plain_line`] of `bar` every
/// [`plain_interval`] until the bar is finished or dropped.
fn plain_lines(bar: &ProgressBar) {
    let Some(every) = plain_interval() else {
        return;
    };
    let weak: WeakProgressBar = bar.downgrade();
    let spawned = std::thread::Builder::new()
        .name("progress-lines".into())
        .spawn(move || {
            loop {
                std::thread::sleep(every);
                match weak.upgrade() {
                    Some(bar) if !bar.is_finished() => eprintln!("{}", plain_line(&bar)),
                    _ => return,
                }
            }
        });
    if let Err(e) = spawned {
        eprintln!("warning: no plain progress lines ({e})");
    }
}

/// One line of where `bar` is: `progress: WHAT: DONE/TOTAL (P %), RATE/s, T left, T elapsed`;
/// for a spinner `progress: WHAT, T elapsed`.
pub fn plain_line(bar: &ProgressBar) -> String {
    let elapsed = bar.elapsed().as_secs_f64();
    let what = bar.message();
    match bar.length() {
        Some(total) if total > 0 => {
            let done = bar.position();
            let rate = if elapsed > 0.0 {
                done as f64 / elapsed
            } else {
                0.0
            };
            let left = if rate > 0.0 {
                format!("{} left", secs(total.saturating_sub(done) as f64 / rate))
            } else {
                "time left unknown".into()
            };
            format!(
                "progress: {what}: {}/{} ({:.0} %), {}/s, {left}, {} elapsed",
                count(done as f64),
                count(total as f64),
                100.0 * done as f64 / total as f64,
                count(rate),
                secs(elapsed)
            )
        }
        _ => format!("progress: {what}, {} elapsed", secs(elapsed)),
    }
}

fn count(n: f64) -> String {
    match n {
        n if n >= 1e9 => format!("{:.2}G", n / 1e9),
        n if n >= 1e6 => format!("{:.2}M", n / 1e6),
        n if n >= 1e4 => format!("{:.1}k", n / 1e3),
        n => format!("{n:.0}"),
    }
}

fn secs(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    match s {
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_line_says_done_total_rate_and_time_left() {
        let bar = ProgressBar::hidden();
        bar.set_length(20_000_000);
        bar.set_message("exact ground truth (scores)");
        bar.set_position(5_000_000);
        let line = plain_line(&bar);
        assert!(
            line.starts_with("progress: exact ground truth (scores): 5.00M/20.00M (25 %), "),
            "{line}"
        );
        assert!(line.contains("/s, ") && line.contains(" left, "), "{line}");
        assert!(line.ends_with(" elapsed"), "{line}");
    }

    #[test]
    fn a_spinner_line_says_its_message_and_the_time_spent() {
        let bar = ProgressBar::hidden();
        bar.set_message("waiting for perf_x: status yellow, 3 of 5 vectors indexed");
        let line = plain_line(&bar);
        assert!(
            line.starts_with(
                "progress: waiting for perf_x: status yellow, 3 of 5 vectors indexed, "
            ),
            "{line}"
        );
        assert!(line.ends_with(" elapsed"), "{line}");
    }

    #[test]
    fn durations_and_counts_read_as_people_write_them() {
        assert_eq!(secs(7.4), "7 s");
        assert_eq!(secs(806.0), "13m26s");
        assert_eq!(secs(3725.0), "1h02m");
        assert_eq!(count(999.0), "999");
        assert_eq!(count(12_345.0), "12.3k");
        assert_eq!(count(1_500_000.0), "1.50M");
    }
}
