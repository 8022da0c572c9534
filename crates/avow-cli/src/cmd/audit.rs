//! `avow audit`: check the audit ledger and recover from a torn last line.

use std::path::PathBuf;
use std::process::ExitCode;

use avow_consent::ledger::{self, HeadStatus};

const AUDIT_EXIT_CODES: &str = "\
Exit codes:
   0  every entry parses, sequence numbers and hash chain are intact, head matches
   1  I/O error
  20  a line is not a valid entry
  21  chain broken: an entry was edited, deleted, inserted or reordered
  22  truncated, or the head file does not match (last entry edited / entries cut off)
  23  torn final line (a write cut short by a crash): run `avow audit recover`";

/// Subcommands of `avow audit`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Check a ledger's hash chain, sequence, head file and final line.
    #[command(after_help = AUDIT_EXIT_CODES)]
    Verify {
        /// The ledger file (JSON lines).
        ledger: PathBuf,
    },
    /// Move a torn final line aside (into LEDGER.torn-OFFSET) so appends can resume.
    Recover {
        /// The ledger file.
        ledger: PathBuf,
    },
}

/// Runs `avow audit`.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Verify { ledger: path } => match ledger::verify(&path) {
            Ok(r) => {
                let head = match r.head {
                    HeadStatus::Matches => "head matches",
                    HeadStatus::LagsByOne => "head lags by one entry (crash after the fsync'd append; no data lost)",
                    HeadStatus::Missing => "WARNING: no head file, so entries cut off the end cannot be detected",
                };
                println!("ok: {} entries, last hash {}; {head}", r.entries, r.last_hash);
                Ok(ExitCode::SUCCESS)
            }
            Err(ledger::LedgerError::Io(e)) => Err(anyhow::anyhow!(e)),
            Err(e) => {
                eprintln!("avow: ledger {}: {e}", path.display());
                Ok(ExitCode::from(e.exit_code()))
            }
        },
        Command::Recover { ledger: path } => {
            match ledger::recover_torn_tail(&path)? {
                Some(aside) => println!("moved the torn final line to {}; the ledger ends at its last complete entry", aside.display()),
                None => println!("the final line is complete; nothing to recover"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
