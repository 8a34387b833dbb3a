//! `sockspec adapter`: the reference adapter served over stdin/stdout. It is the
//! protocol's reference implementation and what `--adapter 'sockspec adapter'` runs.

use super::reference::ReferenceAdapter;
use crate::protocol::{Request, Response};
use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Serves requests from `input` until it ends, writing one response per line.
pub fn serve(input: impl BufRead, output: impl Write + Send + 'static) -> std::io::Result<()> {
    let adapter = ReferenceAdapter::new();
    let out = Arc::new(Mutex::new(output));
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let out = out.clone();
        let reply = move |r: Response| {
            let mut text = serde_json::to_string(&r).expect("responses serialize");
            text.push('\n');
            let mut w = out.lock().unwrap_or_else(|e| e.into_inner());
            // A closed stdout means the harness is gone; nothing is left to tell.
            let _ = w.write_all(text.as_bytes()).and_then(|_| w.flush());
        };
        match serde_json::from_str::<Request>(&line) {
            Ok(request) => adapter.handle(request, reply),
            Err(e) => {
                // Answer with the id if one can be read, so the harness can name the call.
                let id = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|v| v.get("id")?.as_u64())
                    .unwrap_or(0);
                // Unknown ops and words parse (as `Unknown`) and are answered ENOSYS by
                // the adapter; what cannot parse at all is malformed.
                reply(Response::err(id, "EINVAL", format!("bad request: {e}")));
            }
        }
    }
    adapter.shutdown(Duration::from_secs(5));
    Ok(())
}
