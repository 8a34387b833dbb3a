//! Wire-level pieces: codecs and stream machinery that know nothing of sockets,
//! adapters or namespaces (the layering smoltcp keeps). Today: the byte-stream
//! [`reassembly`] a receiver needs to turn segments back into the stream.

pub mod reassembly;
