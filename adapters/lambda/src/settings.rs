//! The functions' settings from the environment, read once per cold start. A value that is
//! set but wrong stops the cold start with a message naming the variable (a misconfigured
//! function should fail its first invocation, not make wrong decisions).
//!
//! | variable | default | used by |
//! |---|---|---|
//! | `BASOKA_TARGET_MAX_DESIL` | `4` | submit-request: above it a request is flagged `desil_above_target` |
//! | `BASOKA_COOLDOWN_DAYS` | `30` | submit-request: days after a delivery before a new request needs `override_reason` |
//! | `BASOKA_DINAS_PHONE` | none | notify: the Dinas duty mobile (new and waitlisted requests) |
//! | `BASOKA_GUDANG_PHONE` | none | notify: the warehouse mobile (allocations to ship, low stock) |
//! | `BASOKA_SMS_MAX_ATTEMPTS` | `5` | notify: sends per (event, recipient) before it stays failed |
//! | `RUST_LOG` | `info` | every function: the log filter (read by the Lambda runtime's subscriber, after `AWS_LAMBDA_LOG_LEVEL`) |
//!
//! The store's own variables (`BASOKA_TABLE`, `BASOKA_HASH_KEY`, …) are read by
//! `basoka_aws::AwsConfig::from_env`.

use shared::Phone;
use shared::notify::NotifyConfig;
use shared::policy::Policy;

/// Every variable of the table above (the infrastructure drift test checks that the template
/// sets no variable that neither this module nor `basoka_aws::config::ENVIRONMENT` reads).
pub const ENVIRONMENT: [&str; 6] = [
    "BASOKA_TARGET_MAX_DESIL",
    "BASOKA_COOLDOWN_DAYS",
    "BASOKA_DINAS_PHONE",
    "BASOKA_GUDANG_PHONE",
    "BASOKA_SMS_MAX_ATTEMPTS",
    "RUST_LOG",
];

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn number<T: std::str::FromStr>(
    name: &str,
    default: T,
    ok: impl Fn(&T) -> bool,
) -> Result<T, String> {
    match var(name) {
        None => Ok(default),
        Some(raw) => match raw.parse::<T>() {
            Ok(v) if ok(&v) => Ok(v),
            _ => Err(format!("{name} is invalid: {raw:?}")),
        },
    }
}

fn phone(name: &str) -> Result<Option<Phone>, String> {
    match var(name) {
        None => Ok(None),
        Some(raw) => Phone::parse(&raw)
            .map(Some)
            .map_err(|e| format!("{name} is not a mobile number: {}", e.message.en)),
    }
}

/// The request policy.
pub fn policy() -> Result<Policy, String> {
    Ok(Policy {
        target_max_desil: number("BASOKA_TARGET_MAX_DESIL", 4u8, |d| (1..=10).contains(d))?,
        cooldown_days: number("BASOKA_COOLDOWN_DAYS", 30u32, |d| *d <= 3650)?,
    })
}

/// Who `notify` tells besides the people on the request.
pub fn notify_config() -> Result<NotifyConfig, String> {
    Ok(NotifyConfig {
        dinas_duty: phone("BASOKA_DINAS_PHONE")?,
        gudang: phone("BASOKA_GUDANG_PHONE")?,
        max_attempts: number("BASOKA_SMS_MAX_ATTEMPTS", 5u32, |n| (1..=20).contains(n))?,
    })
}
