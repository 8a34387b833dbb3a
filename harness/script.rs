//! The scenario language: source files to a typed, checked AST.
//!
//! A scenario file is TOML front matter between `+++` lines, then one step per line
//! (see `docs/scenario-language.md`). Parsing happens in one pass that collects every
//! error of a file, each with a byte span, so `sockspec check` can report them all with
//! file:line:column and a caret. Names are resolved while parsing: a step that uses a
//! socket that was never created, or runs a call on the wrong side, is a parse error,
//! not a runtime surprise.

mod ast;
mod diagnostic;
mod lexer;
mod load;
pub mod ops;
mod parser;
mod wire_line;

pub use ast::*;
pub use diagnostic::{Diagnostic, SourceFile};
pub use load::{discover, load_all, LoadError, Loaded};
pub use ops::{OpSpec, RunsOn, OPS};
pub use parser::parse;
