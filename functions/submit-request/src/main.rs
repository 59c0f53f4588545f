//! `submit-request` on AWS Lambda: the HTTP API's intake and read routes over DynamoDB.
//! Clients and configuration are built once per cold start (see `basoka_lambda`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    basoka_lambda::init_tracing();
    let aws = basoka_lambda::connect().await?;
    let policy = basoka_lambda::settings::policy()?;
    basoka_lambda::run(submit_request::lambda::function(&aws, policy)).await
}
