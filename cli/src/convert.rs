//! `import`, `export` and `convert`: sessions in and out of other libraries' formats.

use std::borrow::Cow;
use std::ffi::OsString;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sessiondb::formats::{self, ExportOptions, Format, Portable};
use sessiondb::{Error, Result, Store};

use crate::{AccountArg, Outcome};

#[derive(Args)]
pub struct SourceArgs {
    /// A session file, a session string, or `-` to read a string from stdin (keeps it out of
    /// the process list).
    input: OsString,
    /// The input's format, when detection is not wanted or the input is ambiguous
    /// (telethon, telethon-v2, telethon-string, gramjs-string, pyrogram, pyrogram-string,
    /// grammers, layer).
    #[arg(long)]
    from: Option<Format>,
}

#[derive(Args)]
pub struct TargetArgs {
    /// The output's format.
    #[arg(long)]
    to: Format,
    /// api_id, for formats that need one (Pyrogram).
    #[arg(long)]
    api_id: Option<i32>,
    /// Whether the logged-in user is a bot (true/false), when the source does not say.
    #[arg(long)]
    bot: Option<bool>,
    /// The logged-in user's id, when the source does not hold it.
    #[arg(long)]
    user_id: Option<i64>,
    /// The DC to export for single-DC formats (default: the home DC).
    #[arg(long)]
    dc: Option<i32>,
    /// The exported DC's address (IP:PORT, [IPv6]:PORT), when Telegram's own table (used for
    /// a session that holds no address) is not wanted.
    #[arg(long, value_name = "IP:PORT")]
    dc_address: Option<std::net::SocketAddr>,
    /// The Telethon schema to write: 8 (Telethon 1.43 and later, default) or 7 (Telethon
    /// 1.42 and older, which cannot open 8).
    #[arg(long, value_name = "7|8")]
    telethon_schema: Option<u8>,
}

impl TargetArgs {
    fn options(&self) -> ExportOptions {
        ExportOptions {
            api_id: self.api_id,
            is_bot: self.bot,
            user_id: self.user_id,
            dc: self.dc,
            dc_address: self.dc_address,
            telethon_schema: self.telethon_schema,
        }
    }
}

#[derive(Args)]
pub struct ImportArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// The store to import into (created if missing).
    store: PathBuf,
    #[command(flatten)]
    account: AccountArg,
    /// Replace the account if it already holds a session: its session and every cached peer,
    /// in one atomic write.
    #[arg(long)]
    replace: bool,
    /// Create the store encrypted with a new passphrase (the store must not exist yet).
    #[arg(long)]
    encrypt: bool,
    #[command(flatten)]
    new_key: crate::passphrase::NewKeyArgs,
}

#[derive(Args)]
pub struct ExportArgs {
    store: PathBuf,
    /// The file to write, or `-` to print a string format.
    output: PathBuf,
    #[command(flatten)]
    account: AccountArg,
    #[command(flatten)]
    target: TargetArgs,
}

#[derive(Args)]
pub struct ConvertArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// The file to write, or `-` to print a string format.
    output: PathBuf,
    #[command(flatten)]
    target: TargetArgs,
}

fn read_source(s: &SourceArgs) -> Result<Portable> {
    if s.input == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::InvalidArgument(format!("reading stdin: {e}")))?;
        return formats::import_string(&text, s.from);
    }
    // Any path, UTF-8 or not; a string is text.
    let path = Path::new(&s.input);
    let text = s.input.to_str();
    match (s.from, text) {
        (Some(f), Some(text)) if f.is_string() => formats::import_string(text, Some(f)),
        (Some(f), _) => formats::import_file(path, Some(f)),
        (None, _) if path.is_file() => formats::import_file(path, None),
        (None, Some(text)) if looks_like_a_string(text) => formats::import_string(text, None),
        // Never echo a long input: it may be a session string, which is a password.
        _ if s.input.len() > LONG_INPUT => Err(Error::InvalidArgument(format!(
            "the input ({} bytes) is neither a file nor a session string",
            s.input.len()
        ))),
        _ => Err(Error::InvalidArgument(format!(
            "{} is not a file (and does not look like a session string)",
            path.display()
        ))),
    }
}

/// Inputs longer than this are never echoed, and may be session strings (the shortest,
/// Pyrogram's, is 351 characters).
const LONG_INPUT: usize = 200;

/// Long base64 text (GramJS strings hold `/` and `+`, so a slash does not make a path).
fn looks_like_a_string(text: &str) -> bool {
    let text = text.trim();
    text.len() > LONG_INPUT
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+/-_=".contains(c))
}

fn print_notes(p: &Portable) {
    for note in &p.notes {
        eprintln!("note: {note}");
    }
}

fn write_target(p: &Portable, output: &Path, t: &TargetArgs) -> Result<String> {
    let stdout = output == Path::new("-");
    let options = t.options();
    let prepared = p.for_export(&options)?;
    if let Cow::Owned(changed) = &prepared {
        print_notes(changed);
    }
    let p = prepared.as_ref();
    if !t.to.is_string() {
        if stdout {
            return Err(Error::InvalidArgument(format!(
                "{} is a file format: give a file name, not -",
                t.to
            )));
        }
        formats::export_file(p, t.to, output, &options)?;
        return Ok(format!("wrote {} session {}", t.to, output.display()));
    }
    let text = formats::export_string(p, t.to, &options)?;
    if stdout {
        println!("{text}");
        return Ok(format!("printed a {} session string", t.to));
    }
    formats::write_private(output, format!("{text}\n").as_bytes())?;
    Ok(format!(
        "wrote a {} session string to {}",
        t.to,
        output.display()
    ))
}

fn summary(p: &Portable) -> String {
    format!(
        "{} DC(s), {} peers, {} channel pts, user {}",
        p.session.dcs.len(),
        p.peers.len(),
        p.session.channels.len(),
        if p.session.user.is_some() {
            "known"
        } else {
            "unknown"
        }
    )
}

pub fn import(a: &ImportArgs) -> Result<Outcome> {
    let portable = read_source(&a.source)?;
    print_notes(&portable);
    let store = if a.encrypt {
        if sessiondb::store_dir(&a.store).exists() {
            return Err(Error::InvalidArgument(format!(
                "--encrypt creates a new store, and {} exists; import into a new path",
                a.store.display()
            )));
        }
        let options = sessiondb::Options {
            encryption: Some(crate::passphrase::new_encryption(&a.new_key)?),
            ..sessiondb::Options::default()
        };
        Store::open_with(&a.store, options)?
    } else {
        crate::read::open_writer(&a.store)?
    };
    let name = &a.account.account;
    let account = store.create_account(name)?;
    if !a.replace
        && account
            .session()?
            .is_some_and(|s| s.home_dc.is_some() || !s.dcs.is_empty())
    {
        return Err(Error::InvalidArgument(format!(
            "account {name:?} already holds a session; pass --replace to overwrite it, or --account to import into another"
        )));
    }
    if a.replace {
        // The old session and every old peer go in the same record the new ones come in.
        portable.replace_into(&account)?;
    } else {
        let bar = progress(portable.peers.len() as u64);
        portable.write_to(&account, |n| bar.set_position(n as u64))?;
        bar.finish_and_clear();
    }
    store.close()?;
    println!(
        "imported into {} account {name:?}: {}",
        a.store.display(),
        summary(&portable)
    );
    Ok(Outcome::Ok)
}

/// A progress bar on stderr for large imports; nothing when stderr is not a terminal.
fn progress(total: u64) -> ProgressBar {
    if total < 50_000 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} peers ({eta})") {
        bar.set_style(style);
    }
    bar
}

pub fn export(a: &ExportArgs) -> Result<Outcome> {
    let options = crate::passphrase::options(&a.store, sessiondb::Options::default())?;
    let store = Store::open_read_only_with(&a.store, options)?;
    let account = store.account(&a.account.account)?;
    if !account.exists()? {
        eprintln!("account {:?} does not exist", a.account.account);
        return Ok(Outcome::NotOk);
    }
    let portable = Portable::from_account(&account)?;
    let done = write_target(&portable, &a.output, &a.target)?;
    eprintln!("{done}: {}", summary(&portable));
    Ok(Outcome::Ok)
}

pub fn convert(a: &ConvertArgs) -> Result<Outcome> {
    let portable = read_source(&a.source)?;
    print_notes(&portable);
    let done = write_target(&portable, &a.output, &a.target)?;
    eprintln!("{done}: {}", summary(&portable));
    Ok(Outcome::Ok)
}
