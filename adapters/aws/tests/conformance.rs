//! The store conformance suite ([`basoka_conformance`]) against [`basoka_aws::DynamoStore`] on
//! moto: one test per case, each on a fresh table (a unique name) on the moto server that
//! `BASOKA_TEST_AWS_ENDPOINT` names. Without that variable every test fails and says how to
//! start moto (`eval "$(scripts/moto)"`); `BASOKA_SKIP_AWS_TESTS=1` compiles them out and
//! leaves one test that says so.

#[cfg(not(basoka_skip_aws_tests))]
mod on_moto {
    use std::sync::Arc;

    use basoka_aws::AwsAdapters;
    use basoka_aws::testkit::fresh_adapters;
    use basoka_conformance::Ports;

    /// Every port over a fresh table, with the store's own contact writer.
    pub fn ports_of(adapters: &AwsAdapters) -> Ports {
        let contacts = adapters.store.clone();
        Ports::of(adapters.store.clone()).with_contacts(move |c| {
            let store = contacts.clone();
            async move { store.put_contact(&c.sub, &c.name, &c.role, &c.phone).await }
        })
    }

    async fn fresh() -> (AwsAdapters, Ports) {
        let adapters = fresh_adapters().await;
        let ports = ports_of(&adapters).with_sms(Arc::new(adapters.sms.clone()), |to| async move {
            basoka_aws::testkit::sms_to(to.as_str()).await
        });
        (adapters, ports)
    }

    basoka_conformance::conformance_tests!(fresh);
}

#[cfg(basoka_skip_aws_tests)]
#[test]
fn aws_conformance_skipped() {
    eprintln!("BASOKA_SKIP_AWS_TESTS=1: the AWS conformance suite was not run");
}
