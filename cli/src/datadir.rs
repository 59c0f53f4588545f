//! The data folder: the embedded database and the local secrets live here (the token
//! signing secret, and the NIK/KK hash key when the runner uses an AWS emulator).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

/// `--data-dir DIR` (or `BASOKA_DATA_DIR`), default `./.basoka`.
#[derive(Args, Debug, Clone)]
pub struct DataDirArg {
    /// Where BASOKA keeps its data.
    #[arg(long = "data-dir", env = "BASOKA_DATA_DIR", default_value = ".basoka")]
    pub data_dir: PathBuf,
}

impl DataDirArg {
    pub fn resolve(&self) -> PathBuf {
        self.data_dir.clone()
    }
}

/// Makes the data folder the owner's alone before anything is written to it: created `0700`,
/// or an existing one set to `0700` and its files to `0600`, with a warning in the log (see
/// `basoka_embedded::private`). Every command calls it first, whatever the backend: the
/// folder holds the token secret, and with the embedded store full NIKs and KKs.
pub fn prepare(dir: &Path) -> Result<(), String> {
    basoka_embedded::secure_data_dir(dir).map_err(|e| e.to_string())
}

/// The token secret: `BASOKA_JWT_SECRET` if set, else the data folder's `jwt-secret` file,
/// created (random, readable by the owner only) on first use.
pub fn token_secret(dir: &Path) -> Result<Vec<u8>, String> {
    secret(
        dir,
        "jwt-secret",
        "BASOKA_JWT_SECRET",
        basoka_web::tokens::MIN_SECRET_LEN,
    )
    .map(String::into_bytes)
}

/// The NIK/KK hash key for an AWS emulator: `BASOKA_HASH_KEY` if set, else the data folder's
/// `hash-key` file, created on first use. (Against real AWS the key must come from the
/// environment: see `backend.rs`.)
pub fn emulator_hash_key(dir: &Path) -> Result<String, String> {
    secret(dir, "hash-key", "BASOKA_HASH_KEY", 32)
}

/// A secret from `env`, else from `dir/file`, else a new random one written there
/// (64 hex digits, mode 0600).
fn secret(dir: &Path, file: &str, env: &str, min_len: usize) -> Result<String, String> {
    if let Ok(s) = std::env::var(env) {
        if s.len() < min_len {
            return Err(format!("{env} must be at least {min_len} characters"));
        }
        return Ok(s);
    }
    let path = dir.join(file);
    match fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= min_len => return Ok(s.trim().to_string()),
        Ok(_) => {
            return Err(format!(
                "{} is shorter than {min_len} characters",
                path.display()
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    }
    basoka_embedded::private::private_dir(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let value: String = {
        use rand::Rng;
        let mut rng = rand::rng();
        (0..32)
            .map(|_| format!("{:02x}", rng.random::<u8>()))
            .collect()
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(&path) {
        Ok(mut f) => {
            f.write_all(value.as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(value)
        }
        // Another process (serve and token started together) created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => secret(dir, file, env, min_len),
        Err(e) => Err(format!("cannot create {}: {e}", path.display())),
    }
}
