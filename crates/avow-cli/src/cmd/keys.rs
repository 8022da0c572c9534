//! `avow keys`: make ed25519 signing keys and show key ids.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use avow_consent::{PublicKey, SecretKey};

/// Subcommands of `avow keys`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a key pair: NAME.key (private, mode 0600) and NAME.pub.
    /// Never overwrites; the private key is never printed.
    New {
        /// Path stem of the two files to create.
        #[arg(long, value_name = "NAME")]
        out: PathBuf,
        /// A comment stored in the public key file (e.g. who owns it).
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Print the key id of a public (.pub) or private (.key) key file.
    Id {
        /// The key file.
        file: PathBuf,
    },
}

/// Runs `avow keys`.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::New { out, comment } => {
            let key = SecretKey::generate();
            let (secret, public) = key.write_pair(&out, &comment)?;
            println!("key id {}", key.public().id());
            println!("private key: {} (keep it secret; mode 0600)", secret.display());
            println!("public key:  {}", public.display());
        }
        Command::Id { file } => {
            let id = match PublicKey::read(&file) {
                Ok(k) => k.id().clone(),
                Err(_) => SecretKey::read(&file)
                    .with_context(|| format!("{} is neither an avow public nor private key", file.display()))?
                    .public()
                    .id()
                    .clone(),
            };
            println!("{id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
