//! The data folder: the embedded database and the local token secret live here.

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

/// Name of the file holding the HS256 secret.
const SECRET_FILE: &str = "jwt-secret";

/// The token secret: `BASOKA_JWT_SECRET` if set, else the data folder's `jwt-secret` file,
/// created (random, readable by the owner only) on first use.
pub fn token_secret(dir: &Path) -> Result<Vec<u8>, String> {
    if let Ok(s) = std::env::var("BASOKA_JWT_SECRET") {
        if s.len() < basoka_web::tokens::MIN_SECRET_LEN {
            return Err("BASOKA_JWT_SECRET must be at least 16 characters".into());
        }
        return Ok(s.into_bytes());
    }
    let path = dir.join(SECRET_FILE);
    match fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= basoka_web::tokens::MIN_SECRET_LEN => {
            return Ok(s.trim().as_bytes().to_vec());
        }
        Ok(_) => return Err(format!("{} is shorter than 16 characters", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    }
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let secret: String = {
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
            f.write_all(secret.as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(secret.into_bytes())
        }
        // Another process (serve and token started together) created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => token_secret(dir),
        Err(e) => Err(format!("cannot create {}: {e}", path.display())),
    }
}
