//! One handshake with the target before a run. An adapter that cannot start (a
//! command that does not exist, an empty one) used to fail every scenario alike, one
//! error block each (642 lines for the corpus); checked once, it is one clear error.

use super::execute::hello_answer;
use super::sessions::{close_sandbox, Sessions};
use super::settings::Settings;
use crate::adapter::{Fault, TargetSpec};
use crate::protocol::{self, Call, Request};
use std::time::Instant;

/// Starts the target as a scenario would (sandbox included), says `hello`, and ends it.
/// The in-process reference needs no check. On failure, the fault in words.
pub fn preflight(settings: &Settings) -> Result<(), String> {
    if settings.target == TargetSpec::Reference {
        return Ok(());
    }
    let sessions = Sessions::open(settings, true, false).map_err(|e| {
        let mut text = format!("{} {}", e.stage, e.fault);
        if !e.teardown.is_empty() {
            text.push_str(&format!("; {}", e.teardown.join("; ")));
        }
        text
    })?;
    let Sessions {
        sandbox,
        target,
        peer,
    } = sessions;
    let mut target = target.expect("opened with a target");
    let deadline = Instant::now() + settings.timeout;
    let said = (|| {
        let hello = Request {
            id: 1,
            call: Call::Hello {
                protocol: protocol::VERSION,
            },
        };
        target.send(&hello)?;
        loop {
            match target.recv(deadline)? {
                Some(r) if r.id == 1 => return hello_answer(r).map(|_| ()),
                Some(_) => {}
                None => return Err(Fault::NoHello(settings.timeout)),
            }
        }
    })();
    // What teardown finds here, the run's first scenario finds again and reports.
    let _ = target.close(false);
    let _ = peer.close(false);
    let _ = close_sandbox(sandbox, false);
    said.map_err(|f| f.to_string())
}
