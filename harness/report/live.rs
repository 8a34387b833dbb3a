//! What a long run shows while it runs: a progress bar on stderr (only on a terminal,
//! and only for more than one item) and result lines on stdout that never tear the
//! bar. One type for `run` and `grade`.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Live {
    bar: Option<ProgressBar>,
}

impl Live {
    /// Progress over `total` items; `show_bar` when the user allows a bar and stderr
    /// is a terminal.
    pub fn new(total: usize, show_bar: bool) -> Live {
        let bar = show_bar.then(|| {
            let pb =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            pb.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {wide_msg}",
                )
                .expect("valid template"),
            );
            pb
        });
        Live { bar }
    }

    /// Prints a line on stdout above the bar.
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(pb) => pb.suspend(|| println!("{line}")),
            None => println!("{line}"),
        }
    }

    /// An item began: its name beside the bar.
    pub fn started(&self, name: &str) {
        if let Some(pb) = &self.bar {
            pb.set_message(name.to_string());
        }
    }

    /// An item ended.
    pub fn advance(&self) {
        if let Some(pb) = &self.bar {
            pb.inc(1);
        }
    }

    /// The bar goes; what was printed stays.
    pub fn finish(self) {
        if let Some(pb) = self.bar {
            pb.finish_and_clear();
        }
    }
}
