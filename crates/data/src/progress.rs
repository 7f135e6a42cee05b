use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar on stderr for a long setup step (generation, ground truth, upload, index
/// build). indicatif hides it when stderr is not a terminal, so logs and CI stay clean.
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
    bar
}
