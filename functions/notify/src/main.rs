//! `notify` on AWS Lambda: SMS through SNS for every event of its queue, and the scheduled
//! retry of failed SMS. Clients and configuration are built once per cold start (see
//! `basoka_lambda`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    basoka_lambda::init_tracing();
    let aws = basoka_lambda::connect().await?;
    let config = basoka_lambda::settings::notify_config()?;
    basoka_lambda::run(notify::lambda::function(&aws, config)).await
}
