//! `basoka token`: a bearer token for the local server, for trying the API with curl.

use std::process::ExitCode;

use basoka_web::tokens::{self, LOCAL_ISSUER, TokenClaims};
use clap::Args;
use shared::{KelurahanCode, Phone, Role};

use crate::datadir::{self, DataDirArg};

#[derive(Args, Debug)]
pub struct TokenArgs {
    /// kelurahan, surveyor, dinas or gudang.
    #[arg(long)]
    role: String,
    /// Kelurahan code or name (required for role kelurahan), e.g. 32.75.01.1001 or "Bekasi Jaya".
    #[arg(long)]
    kelurahan: Option<String>,
    /// User id (claim `sub`); surveys are assigned to it. Default: derived from role and kelurahan.
    #[arg(long)]
    sub: Option<String>,
    /// Display name.
    #[arg(long)]
    name: Option<String>,
    /// Mobile number for SMS (claim `phone_number`); also recorded in the data folder's
    /// directory so that SMS for this user (e.g. a survey assignment) reach it.
    #[arg(long)]
    phone: Option<String>,
    /// Validity in hours (default: a working day).
    #[arg(long, default_value_t = 9)]
    hours: u32,
    #[command(flatten)]
    data: DataDirArg,
    /// Where `--phone` is recorded (the server's backend).
    #[command(flatten)]
    backend: crate::backend::StoreArgs,
}

pub fn run(args: TokenArgs) -> Result<ExitCode, String> {
    let role = Role::parse(&args.role).ok_or_else(|| {
        format!(
            "unknown role `{}`: use kelurahan, surveyor, dinas or gudang",
            args.role
        )
    })?;
    let kelurahan = match (&args.kelurahan, role) {
        (Some(k), Role::Kelurahan) => Some(KelurahanCode::parse_code_or_name(k).map_err(|_| {
            format!(
                "unknown kelurahan `{k}`: give a Kemendagri code such as 32.75.01.1001 or a name"
            )
        })?),
        (None, Role::Kelurahan) => return Err("role kelurahan needs --kelurahan CODE".into()),
        (Some(_), _) => return Err("--kelurahan is only for role kelurahan".into()),
        (None, _) => None,
    };
    let phone = match &args.phone {
        Some(p) => Some(Phone::parse(p).map_err(|e| format!("--phone: {}", e.message.en))?),
        None => None,
    };
    if args.hours == 0 || args.hours > 24 * 31 {
        return Err("--hours must be between 1 and 744".into());
    }
    // Given but blank: the server would refuse the token (no `sub`) or show nobody.
    let given = |flag: &str, v: &Option<String>| match v.as_deref().map(str::trim) {
        Some("") => Err(format!(
            "{flag} is empty: give a value, or leave {flag} out for the default"
        )),
        other => Ok(other.map(str::to_string)),
    };
    let sub = given("--sub", &args.sub)?;
    let name = given("--name", &args.name)?;
    let sub = sub.unwrap_or_else(|| match kelurahan {
        Some(k) => format!("kelurahan-{}", k.as_str().replace('.', "")),
        None => format!("{}-1", role.as_str()),
    });
    let name = name.unwrap_or_else(|| match kelurahan {
        Some(k) => format!("Staf Kelurahan {}", k.name()),
        None => match role {
            Role::Surveyor => "Tim Survei Dinsos".into(),
            Role::Dinas => "Petugas Dinsos".into(),
            Role::Gudang => "Petugas Gudang".into(),
            Role::Kelurahan => unreachable!("kelurahan has a kelurahan"),
        },
    });
    let dir = args.data.resolve();
    datadir::prepare(&dir)?;
    let secret = datadir::token_secret(&dir)?;
    if let Some(p) = &phone {
        // The directory notify reads: e.g. the surveyor a survey is assigned to gets an SMS.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let store = args.backend.open(&dir).await?;
            store
                .put_contact(&sub, &name, role.as_str(), p)
                .await
                .map_err(|e| format!("cannot record the contact: {e}"))
        })?;
    }
    let now = chrono::Utc::now().timestamp();
    let claims = TokenClaims {
        sub,
        name,
        role: role.as_str().into(),
        kelurahan: kelurahan.map(|k| k.as_str().to_string()),
        phone_number: phone.map(|p| p.as_str().to_string()),
        iss: LOCAL_ISSUER.into(),
        iat: now,
        exp: now + i64::from(args.hours) * 3600,
    };
    // What the server will read from it: never issue a token it would refuse.
    let as_json = serde_json::to_value(&claims).map_err(|e| e.to_string())?;
    shared::Caller::from_claims(&as_json)
        .map_err(|e| format!("the token would be refused: {}", e.text().en))?;
    let token = tokens::issue(&secret, &claims).map_err(|e| e.to_string())?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}
