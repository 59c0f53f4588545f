//! `allocate-stock` on AWS Lambda: the stock, catalogue, shipment and handover routes, and the
//! queue of approvals, cancellations and receipts, over DynamoDB. Clients and configuration are
//! built once per cold start (see `basoka_lambda`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    basoka_lambda::init_tracing();
    let aws = basoka_lambda::connect().await?;
    basoka_lambda::run(allocate_stock::lambda::function(&aws)).await
}
