//! Passphrases for encrypted stores: from `--passphrase-file`, from `SESSIONDB_PASSPHRASE`,
//! or asked for on the terminal without echo. Asked only when the store is encrypted.

use std::path::PathBuf;
use std::sync::OnceLock;

use clap::Args;
use sessiondb::{Encryption, Error, KdfParams, Options, Passphrase, Result};

/// Where the current passphrase comes from (global flags).
#[derive(Args, Clone, Debug, Default)]
pub struct PassphraseArgs {
    /// Read the passphrase of an encrypted store from this file (its first line).
    /// Otherwise SESSIONDB_PASSPHRASE, otherwise a prompt on the terminal.
    #[arg(long, global = true, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

/// How a new key file is made (`import --encrypt`, `rekey`).
#[derive(Args, Clone, Debug)]
pub struct NewKeyArgs {
    /// Read the new passphrase from this file (first line). Otherwise
    /// SESSIONDB_NEW_PASSPHRASE, otherwise a prompt on the terminal (asked twice).
    #[arg(long, value_name = "FILE")]
    pub new_passphrase_file: Option<PathBuf>,
    /// Argon2id memory in KiB (default 65536 = 64 MiB; at least 19456 = 19 MiB).
    #[arg(long, default_value_t = KdfParams::default().memory_kib)]
    pub kdf_memory_kib: u32,
    /// Argon2id passes (default 3; at least 2).
    #[arg(long, default_value_t = KdfParams::default().iterations)]
    pub kdf_iterations: u32,
}

static SOURCE: OnceLock<PassphraseArgs> = OnceLock::new();

/// Records the global flags (once, from `main`).
pub fn set_source(args: PassphraseArgs) {
    let _ = SOURCE.set(args);
}

/// `base` with the store's passphrase if the store is encrypted.
pub fn options(store: &std::path::Path, base: Options) -> Result<Options> {
    if !sessiondb::is_encrypted(store) {
        return Ok(base);
    }
    let source = SOURCE.get().cloned().unwrap_or_default();
    let passphrase = obtain(
        source.passphrase_file.as_ref(),
        "SESSIONDB_PASSPHRASE",
        &format!("passphrase for {}: ", store.display()),
        false,
    )?;
    Ok(Options {
        encryption: Some(Encryption {
            passphrase,
            kdf: KdfParams::default(),
        }),
        ..base
    })
}

/// A new passphrase and the parameters to wrap the data key with.
pub fn new_encryption(args: &NewKeyArgs) -> Result<Encryption> {
    let passphrase = obtain(
        args.new_passphrase_file.as_ref(),
        "SESSIONDB_NEW_PASSPHRASE",
        "new passphrase: ",
        true,
    )?;
    Ok(Encryption {
        passphrase,
        kdf: KdfParams {
            memory_kib: args.kdf_memory_kib,
            iterations: args.kdf_iterations,
            parallelism: 1,
        },
    })
}

fn obtain(file: Option<&PathBuf>, var: &str, prompt: &str, twice: bool) -> Result<Passphrase> {
    if let Some(path) = file {
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| Error::InvalidArgument(format!("reading {}: {e}", path.display())))?,
        );
        return Ok(Passphrase::new(text.lines().next().unwrap_or_default()));
    }
    if let Ok(value) = std::env::var(var) {
        return Ok(Passphrase::new(value));
    }
    let flag = if twice {
        "--new-passphrase-file"
    } else {
        "--passphrase-file"
    };
    let ask = || {
        rpassword::prompt_password(prompt).map_err(|e| {
            Error::InvalidArgument(format!(
                "the store needs a passphrase and none could be asked for ({e}); \
                 pass {flag} or set {var}"
            ))
        })
    };
    let first = ask()?;
    if twice {
        let again = rpassword::prompt_password("again: ")
            .map_err(|e| Error::InvalidArgument(format!("reading the passphrase: {e}")))?;
        let same = again == first;
        drop(Passphrase::new(again)); // wiped
        if !same {
            return Err(Error::InvalidArgument("the passphrases differ".into()));
        }
    }
    Ok(Passphrase::new(first))
}
