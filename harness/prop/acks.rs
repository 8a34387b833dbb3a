//! One retransmission case, the other direction of `prop reassembly`: the target's
//! application sends a stream with random write sizes and closes, and the harness, as
//! its receiver, answers each segment as the case says: an ACK, nothing (so the target
//! must retransmit), the last ACK again, an older ACK after a newer one (ACKs
//! reordered), or an ACK with another window, zero included. When the answers run out
//! the harness acknowledges everything with a full window.
//!
//! Knows nothing of wires or targets: `deliver` plays it.

use crate::protocol::pattern;
use proptest::prelude::*;

/// How the harness answers one segment from the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// An ACK of everything received in order, with the current window.
    Ack,
    /// No answer: the target's retransmission timer must bring the data again.
    Withhold,
    /// The last ACK sent, again (a duplicate ACK).
    Repeat,
    /// An ACK older than the last one sent: ACKs reordered on the way.
    Older,
    /// An ACK that sets the window to this many bytes (0: shut; RFC 9293 3.8.6).
    Window(u16),
}

impl Answer {
    fn word(self) -> String {
        match self {
            Answer::Ack => "ack".into(),
            Answer::Withhold => "withhold".into(),
            Answer::Repeat => "repeat".into(),
            Answer::Older => "older".into(),
            Answer::Window(w) => format!("window {w}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendCase {
    /// Bytes the target sends.
    pub len: u32,
    /// The stream is `pattern::fill(seed, 0, len)`.
    pub seed: u64,
    /// The application's write sizes, used in turn.
    pub writes: Vec<u32>,
    /// The window the harness offers from its SYN on, until an answer changes it.
    pub window: u16,
    /// The harness's answers to the target's segments, in order.
    pub answers: Vec<Answer>,
}

/// About the most writes a case makes.
const MAX_WRITES: u32 = 64;

impl SendCase {
    pub fn stream(&self) -> Vec<u8> {
        pattern::fill(self.seed, 0, self.len as usize)
    }

    /// `3000 bytes in writes of [100, 7]; answers: ack, withhold, window 0`.
    pub fn describe(&self) -> String {
        let answers: Vec<String> = self.answers.iter().map(|a| a.word()).collect();
        format!(
            "the target sends {} bytes in writes of {:?}; the harness offers a window of {} and answers: {}",
            self.len,
            self.writes,
            self.window,
            if answers.is_empty() {
                "ack (plainly)".to_string()
            } else {
                answers.join(", ")
            }
        )
    }
}

/// Cases up to `max_len` bytes; few answers first, shrinking toward plain ACKs.
pub fn strategy(max_len: u32) -> impl Strategy<Value = SendCase> {
    let max_len = max_len.max(1);
    let len = prop_oneof![3 => 0..=64u32, 3 => 0..=4096u32.min(max_len), 2 => 0..=max_len];
    let answer = prop_oneof![
        3 => Just(Answer::Ack),
        2 => Just(Answer::Withhold),
        1 => Just(Answer::Repeat),
        1 => Just(Answer::Older),
        1 => prop_oneof![Just(0u16), 1..=4096u16].prop_map(Answer::Window),
    ];
    (
        len,
        any::<u64>(),
        proptest::collection::vec(prop_oneof![1..=16u32, 1..=65536u32], 1..4),
        proptest::collection::vec(answer, 0..12),
        prop_oneof![Just(65535u16), 1..=8192u16],
    )
        .prop_map(|(len, seed, writes, answers, window)| {
            let floor = len.div_ceil(MAX_WRITES).max(1);
            SendCase {
                len,
                seed,
                writes: writes.iter().map(|w| (*w).max(floor)).collect(),
                window,
                answers,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_says_what_the_harness_answers() {
        let case = SendCase {
            len: 300,
            seed: 1,
            writes: vec![100],
            window: 4096,
            answers: vec![Answer::Withhold, Answer::Window(0), Answer::Older],
        };
        assert_eq!(
            case.describe(),
            "the target sends 300 bytes in writes of [100]; the harness offers a window of 4096 and answers: withhold, window 0, older"
        );
        assert_eq!(case.stream().len(), 300);
    }
}
