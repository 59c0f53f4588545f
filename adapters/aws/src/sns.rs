//! [`SnsSms`]: the SMS port on AWS, an SNS `Publish` straight to the phone number with
//! `AWS.SNS.SMS.SMSType = Transactional` (delivery over price; these are operational messages
//! about aid, not marketing) and, when configured, `AWS.SNS.SMS.SenderID`.
//!
//! Errors are returned as text for the notification log. SNS messages about an invalid number
//! can quote the number: any occurrence of the recipient's number is masked before the text
//! leaves this module, and logs name the recipient masked only.

use async_trait::async_trait;
use aws_sdk_sns::Client;
use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sns::types::MessageAttributeValue;
use shared::Phone;
use shared::notify::SmsSender;
use shared::sms::SmsText;

/// Sends SMS through SNS. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SnsSms {
    client: Client,
    sender_id: Option<String>,
}

fn string_attribute(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .expect("the data type is set")
}

/// `text` with every form of the phone number masked.
fn scrub(text: &str, to: &Phone) -> String {
    let full = to.as_str();
    let national = full.trim_start_matches('+');
    let local = format!("0{}", national.trim_start_matches("62"));
    let mut out = text.to_string();
    for form in [full, national, local.as_str()] {
        if form.len() >= 8 {
            out = out.replace(form, &to.masked());
        }
    }
    out
}

impl SnsSms {
    pub fn new(client: Client, sender_id: Option<String>) -> SnsSms {
        SnsSms { client, sender_id }
    }
}

#[async_trait]
impl SmsSender for SnsSms {
    async fn send(&self, to: &Phone, text: &SmsText) -> Result<String, String> {
        let mut publish = self
            .client
            .publish()
            .phone_number(to.as_str())
            .message(text.as_str())
            .message_attributes("AWS.SNS.SMS.SMSType", string_attribute("Transactional"));
        if let Some(id) = &self.sender_id {
            publish = publish.message_attributes("AWS.SNS.SMS.SenderID", string_attribute(id));
        }
        match publish.send().await {
            Ok(out) => {
                let id = out.message_id.unwrap_or_default();
                tracing::info!(to = %to.masked(), message_id = %id, "SMS published to SNS");
                Ok(id)
            }
            Err(e) => {
                let detail = match e.as_service_error() {
                    Some(s) => format!(
                        "SNS {}: {}",
                        s.code().unwrap_or("error"),
                        s.message().unwrap_or("")
                    ),
                    None => format!("SNS: {}", DisplayErrorContext(&e)),
                };
                let detail = scrub(&detail, to);
                tracing::warn!(to = %to.masked(), error = %detail, "SMS publish failed");
                Err(detail)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_never_carry_the_number() {
        let to = Phone::parse("081234567890").unwrap();
        let text = scrub(
            "Invalid parameter: PhoneNumber Reason: +6281234567890 / 6281234567890 / 081234567890",
            &to,
        );
        assert!(!text.contains("1234567890"), "{text}");
        assert!(text.contains(&to.masked()), "{text}");
    }
}
