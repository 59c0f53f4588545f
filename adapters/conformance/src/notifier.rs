//! The notifier port ([`shared::notify::SmsSender`]): what every SMS adapter (the local outbox
//! file, SNS) must do. A send returns the channel's message id; what was sent can be read back
//! through the adapter's own window on the channel ([`crate::Ports::with_sms`]: the outbox
//! file, moto's record of published SMS), exactly as given, one entry per send, in order.

use shared::Phone;
use shared::sms::SmsText;

use crate::Ports;

/// A mobile number no other run uses (the SNS emulator's record is shared by every test).
fn unique_phone() -> Phone {
    let n = uuid::Uuid::now_v7().as_u128() % 100_000_000;
    Phone::parse(&format!("+62812{n:08}")).expect("a valid mobile number")
}

pub async fn sms_sent_and_read_back_exactly(p: &Ports) {
    let to = unique_phone();
    let first = SmsText::fit(
        "BASOKA: Permohonan BSK-7K3M9Q (Kel. Bekasijaya) DISETUJUI 04-12-2026 11:00 WIB: 1 paket sembako.",
    );
    let second = SmsText::fit("BASOKA: Bantuan BSK-7K3M9Q telah diterima. Terima kasih @ 100%!");
    let id1 = p.sms.send(&to, &first).await.expect("first send");
    let id2 = p.sms.send(&to, &second).await.expect("second send");
    assert!(
        !id1.is_empty() && !id2.is_empty(),
        "a send returns the message id"
    );
    assert_ne!(id1, id2, "every send is its own message");
    let sent = (p.sent_sms)(to.clone()).await;
    assert_eq!(
        sent,
        vec![
            (id1, first.as_str().to_string()),
            (id2, second.as_str().to_string())
        ],
        "what was sent, to whom, in order, with the ids the sends returned"
    );
    let other = unique_phone();
    assert!(
        (p.sent_sms)(other).await.is_empty(),
        "nothing was sent to another number"
    );
}
