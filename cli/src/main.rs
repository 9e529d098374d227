//! `sessiondb`: inspect, check, back up and compact sessiondb stores, and convert sessions
//! between sessiondb, Telethon, Pyrogram, GramJS, grammers and layer-client, and move
//! accounts between stores and a PostgreSQL database (feature `postgres`).
//!
//! Read commands open the store read-only, so they work beside a running bot. Nothing
//! secret is printed unless asked (`inspect --show-secrets`, or exporting a string).
//!
//! Encrypted stores: the passphrase comes from `--passphrase-file`, `SESSIONDB_PASSPHRASE`
//! or a prompt, and is asked for only when the store has a key file.
//!
//! Exit status: 0 success; 1 the command ran but found a problem or nothing (verify found
//! damage, a peer or account does not exist); 2 usage error; 3 error (locked, corrupt,
//! unreadable input, refused export).

mod convert;
mod passphrase;
mod read;
mod transfer;
mod wording;

use std::process::ExitCode;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "sessiondb", version, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    passphrase: passphrase::PassphraseArgs,
}

const EXIT_CODES: &str = "Exit status: 0 success; 1 problem found or nothing found; 2 usage error; 3 error.\n\
<store> is a path such as `bot` (for the directory bot.session/).";

#[derive(Subcommand)]
enum Command {
    /// List or delete accounts.
    Accounts {
        #[command(subcommand)]
        action: AccountsAction,
    },
    /// What an account holds: DCs, user, update state, app fields, peer counts.
    Inspect {
        store: PathBuf,
        #[command(flatten)]
        account: AccountArg,
        /// Also print auth keys (hex), salts and access hashes.
        #[arg(long)]
        show_secrets: bool,
        #[arg(long)]
        json: bool,
    },
    /// Sizes, counts, log length, last checkpoint.
    Stats {
        store: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Read everything back and check it.
    Verify {
        store: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Look up cached peers by id, username or phone, or list them.
    Peers(read::PeersArgs),
    /// Write a consistent copy of the store to <dest>.session/ (works beside a writer).
    Backup { store: PathBuf, dest: PathBuf },
    /// Remove cached peers by age or count (not beside a writer; `compact` gives the space back).
    Prune(read::PruneArgs),
    /// Rewrite the store into fresh files to give space back (not beside a writer).
    Compact {
        store: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Change an encrypted store's passphrase. Without --rotate it rewraps the same data
    /// key (old key files, as in earlier backups, still open with the old passphrase);
    /// with --rotate every value is re-encrypted under a new data key.
    Rekey {
        store: PathBuf,
        /// Rotate the data key: a new key and store id, every value and record re-encrypted
        /// (offline, like compact). What a leaked passphrase or key file calls for.
        #[arg(long)]
        rotate: bool,
        #[command(flatten)]
        new: passphrase::NewKeyArgs,
    },
    /// Import a session file or string into a store account.
    Import(convert::ImportArgs),
    /// Export a store account to a session file or string.
    Export(convert::ExportArgs),
    /// Convert a session file or string into another format in one step.
    Convert(convert::ConvertArgs),
    /// Move an account between stores and PostgreSQL (copied, checked, then deleted from
    /// the source). Not beside a writer of either side.
    Move(transfer::TransferArgs),
    /// Copy an account between stores and PostgreSQL, checked; the source keeps it.
    Copy(transfer::TransferArgs),
}

#[derive(Subcommand)]
enum AccountsAction {
    /// List the accounts.
    List {
        store: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Delete an account and everything it holds (not beside a writer).
    Delete { store: PathBuf, account: String },
}

#[derive(Args, Clone)]
pub struct AccountArg {
    /// The account (default: "default").
    #[arg(long, short, default_value = sessiondb::DEFAULT_ACCOUNT)]
    pub account: String,
}

/// How a command ended, when it did not fail.
pub enum Outcome {
    Ok,
    /// Ran, but found a problem or nothing.
    NotOk,
}

fn main() -> ExitCode {
    // Output piped into `head` ends quietly when the pipe closes, like any Unix tool, instead
    // of a panic on the next print (Rust ignores SIGPIPE by default).
    // SAFETY: restores the default action of one signal before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    passphrase::set_source(cli.passphrase);
    let result = match cli.command {
        Command::Accounts { action } => match action {
            AccountsAction::List { store, json } => read::accounts(&store, json),
            AccountsAction::Delete { store, account } => read::delete_account(&store, &account),
        },
        Command::Inspect {
            store,
            account,
            show_secrets,
            json,
        } => read::inspect(&store, &account.account, show_secrets, json),
        Command::Stats { store, json } => read::stats(&store, json),
        Command::Verify { store, json } => read::verify(&store, json),
        Command::Peers(args) => read::peers(&args),
        Command::Backup { store, dest } => read::backup(&store, &dest),
        Command::Compact { store, json } => read::compact(&store, json),
        Command::Prune(args) => read::prune(&args),
        Command::Rekey { store, rotate, new } => read::rekey(&store, rotate, &new),
        Command::Import(args) => convert::import(&args),
        Command::Export(args) => convert::export(&args),
        Command::Convert(args) => convert::convert(&args),
        Command::Move(args) => transfer::run(&args, true),
        Command::Copy(args) => transfer::run(&args, false),
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::NotOk) => ExitCode::from(1),
        Err(e) => {
            eprintln!("sessiondb: {}", wording::message(&e));
            ExitCode::from(3)
        }
    }
}

/// Prints a JSON value on one line.
pub fn print_json(value: &serde_json::Value) {
    println!("{value}");
}
