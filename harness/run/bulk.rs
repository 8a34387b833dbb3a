//! `bulk_echo(s, n)`: a large transfer through an echo, both directions at once.
//!
//! The socket is made non-blocking and one thread alternates: send what the socket
//! takes, read what came back, and poll when neither moved. Sending everything first
//! would deadlock against a correct echo server (its replies fill our receive buffer,
//! it stops reading, our send blocks), so interleaving is the point. Bytes are the
//! splitmix64 pattern, made and checked inside the adapter (`bulk` capability).

use super::describe::{self, Actual, Value};
use super::runner::{Runner, Stop};
use crate::adapter::Fault;
use crate::protocol::{errno, pattern, Call, Reply};
use crate::script::{Ident, Side, Step};
use std::time::Instant;

/// The most one send or recv moves.
const CHUNK: u64 = 64 << 10;
/// How long one poll waits before the loop looks at its deadline again.
const POLL_MS: u64 = 100;

impl Runner<'_> {
    pub(super) fn bulk_echo(
        &mut self,
        step: &Step,
        side: Side,
        sock: &Ident,
        len: u64,
    ) -> Result<Actual, Stop> {
        let handle = self.bound(step, sock)?.1;
        // The step's line makes the seed: the same scenario sends the same bytes.
        let seed = 0x5eed_0000 + u64::from(step.line);
        let expected = format!("{} echoed back intact", describe::count(len));
        self.reply(
            step,
            side,
            Call::Nonblocking {
                sock: handle,
                on: true,
            },
        )?;
        let (mut sent, mut back) = (0u64, 0u64);
        let mut last_progress = Instant::now();
        let stalled_after = self.settings.timeout;
        let again = |name: &str| errno::canonical(name) == errno::canonical("EAGAIN");
        while back < len {
            let mut progressed = false;
            // Send as far ahead as the socket takes, then read all that came back:
            // queues fill both ways, and a program that drops what a partial write
            // did not take loses bytes.
            while sent < len {
                let call = Call::SendPattern {
                    sock: handle,
                    seed,
                    offset: sent,
                    len: (len - sent).min(CHUNK),
                };
                match self.reply(step, side, call)? {
                    Reply::Ok(d) => {
                        let n = d.sent.unwrap_or(0);
                        sent += n;
                        progressed |= n > 0;
                    }
                    Reply::Err(e) if again(&e.errno) => break,
                    Reply::Err(e) => {
                        return Err(self.fail(
                            step,
                            expected,
                            format!("sending failed with {} after {sent} bytes ({back} had come back)", e.errno),
                            Some("the program closed or reset the connection in the middle of the transfer".into()),
                        ))
                    }
                }
            }
            while back < len {
                let call = Call::RecvPattern {
                    sock: handle,
                    seed,
                    offset: back,
                    max: CHUNK,
                };
                match self.reply(step, side, call)? {
                    Reply::Ok(d) => {
                        if let Some(m) = d.mismatch {
                            let want = pattern::byte(seed, m.at);
                            return Err(self.fail(
                            step,
                            expected,
                            format!(
                                "byte {} came back as 0x{:02x}; 0x{want:02x} was sent there",
                                m.at, m.got
                            ),
                            Some("bytes were lost, changed or reordered on the way back: check that every byte read is written back, in order, including after a partial write (send() may take fewer bytes than asked)".into()),
                        ));
                        }
                        let n = d.received.unwrap_or(0);
                        if n == 0 {
                            return Err(self.fail(
                                step,
                                expected,
                                format!("end of stream after {back} of {len} bytes came back"),
                                Some(
                                    "the program closed the connection before echoing everything"
                                        .into(),
                                ),
                            ));
                        }
                        back += n;
                        progressed = true;
                    }
                    Reply::Err(e) if again(&e.errno) => break,
                    Reply::Err(e) => {
                        return Err(self.fail(
                            step,
                            expected,
                            format!("{} after {back} of {len} bytes came back", e.errno),
                            None,
                        ))
                    }
                }
            }
            if progressed {
                last_progress = Instant::now();
                continue;
            }
            if last_progress.elapsed() >= stalled_after {
                return Err(self.fail(
                    step,
                    expected,
                    format!(
                        "{back} of {len} bytes came back ({sent} sent), then nothing for {}",
                        describe::duration(stalled_after)
                    ),
                    Some("the echo stalled: bytes read but never written back (a partial write ignored?), or a server that stops reading while it writes".into()),
                ));
            }
            let events = if sent < len {
                vec!["in".into(), "out".into()]
            } else {
                vec!["in".into()]
            };
            self.reply(
                step,
                side,
                Call::Poll {
                    sock: handle,
                    events,
                    timeout_ms: POLL_MS,
                },
            )?;
        }
        self.reply(
            step,
            side,
            Call::Nonblocking {
                sock: handle,
                on: false,
            },
        )?;
        Ok(Actual::Done(Value::Sent(back)))
    }

    /// One non-blocking call's reply; an adapter that does not answer is broken.
    fn reply(&mut self, step: &Step, side: Side, call: Call) -> Result<Reply, Stop> {
        let op = call.op_name();
        let deadline = self.deadline();
        match self.conn(side).call(call, deadline) {
            Ok(Some(r)) => Ok(r.result),
            Ok(None) => Err(self.broke(
                step,
                side,
                Fault::NoAnswer {
                    op,
                    after: self.settings.timeout,
                },
            )),
            Err(f) => Err(self.broke(step, side, f)),
        }
    }
}
