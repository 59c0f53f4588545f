//! The infrastructure drift test: `infra/template.yaml` must describe the code as it is.
//!
//! A deployment that drifted from the code fails in production, not in a test: a route the
//! function serves but API Gateway does not route (404 for every client), an IAM action a port
//! calls but the role lacks (AccessDenied at the first approval), a subscription filter that
//! drops an event type `allocate-stock` needs (approved requests never allocated), an
//! environment variable nobody reads (a setting ops believe they changed). So this test reads
//! the template and compares it with what the code declares, next to the code that does it:
//!
//! * routes: each function's routes as its router declares them (its OpenAPI document, plus
//!   [`basoka_web::meta::ROUTES`] for `submit-request`), and the open routes;
//! * IAM: each function's DynamoDB and SNS actions are exactly `basoka_aws::calls::iam_actions`
//!   of the ports the function declares (`<function>::lambda::PORTS`; `lambda_events.rs` runs
//!   the handlers with a call recorder and fails on any call outside them); SQS actions only
//!   for a function's own queue; no wildcard action; only `notify` may send SMS;
//! * event transport: the pipe's filter is `basoka_aws::stream`'s and it has no input
//!   template, the `allocate-stock` subscription filter is `subscription_filter_policy` of
//!   `CONSUMED_EVENTS` (nested in the stream record), every consumer queue has a
//!   dead-letter queue and reports partial batch failures, a queue is mapped to exactly the
//!   functions that have SQS fixtures in `events/` (which `lambda_events.rs` feeds them);
//! * the table is `basoka_aws::table::cloudformation_properties()`;
//! * each function gets exactly the environment its code reads (`<function>::lambda::
//!   ENVIRONMENT`), each value from the right source (the table by `!Ref`, the hash key by
//!   the secret's dynamic reference, the policy and phones from their parameters);
//! * IAM beyond the functions' actions: no Allow by exclusion (`NotAction`, `NotResource`)
//!   anywhere; no explicit `Role`, and nothing attached to the roles SAM builds; notify's Deny
//!   unconditional; the pipe role's statements exactly (stream read, `sns:Publish` to the
//!   topic, its DLQ, its logs); the queue policy exactly (`sqs:SendMessage` from
//!   `sns.amazonaws.com`, for the events topic's ARN, to the topic's queues);
//! * the transport switched on: pipe `RUNNING` from `TRIM_HORIZON`, no disabled mapping, a
//!   `maxReceiveCount` of 3 to 10, notify's schedule enabled; the `$default` route to
//!   submit-request with the authorizer;
//! * the authorizer: the stack's own user pool as issuer, no `AuthorizationScopes`, the
//!   `$default` stage; the parameters refuse what the code refuses (sender ID, phones).
//!
//! Pure file reading: needs no emulator and no network. `BASOKA_DRIFT_TEMPLATE=<file>` runs
//! the checks on another file (a mutated copy of the template, to see a check fail).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use basoka_aws::Port;
use serde_json::{Value, json};

/// The four functions: (binary and crate directory, the ports it declares).
const FUNCTIONS: [(&str, &[Port]); 4] = [
    ("submit-request", submit_request::lambda::PORTS),
    ("verify-survey", verify_survey::lambda::PORTS),
    ("allocate-stock", allocate_stock::lambda::PORTS),
    ("notify", notify::lambda::PORTS),
];

fn root() -> PathBuf {
    basoka_tests::workspace_root()
}

/// YAML as JSON; a CloudFormation short form (`!Ref X`) becomes `{"!Ref": "X"}`.
fn to_json(v: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(&n).expect("a YAML number is a JSON number"),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Y::Mapping(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        other => panic!("a non-string key in the template: {other:?}"),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(t) => {
            let tag = t.tag.to_string();
            let tag = if tag.starts_with('!') {
                tag
            } else {
                format!("!{tag}")
            };
            json!({ tag: to_json(t.value) })
        }
    }
}

/// `infra/template.yaml`, or the file `BASOKA_DRIFT_TEMPLATE` names: a mutated copy, to see
/// a check fail without touching the real template.
fn template() -> Value {
    let path = std::env::var_os("BASOKA_DRIFT_TEMPLATE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("infra/template.yaml"));
    let text = std::fs::read_to_string(&path).expect("infra/template.yaml is readable");
    let yaml: serde_norway::Value = serde_norway::from_str(&text).expect("the template is YAML");
    to_json(yaml)
}

fn resources(t: &Value) -> &serde_json::Map<String, Value> {
    t["Resources"].as_object().expect("Resources")
}

fn of_type<'a>(t: &'a Value, ty: &str) -> Vec<(&'a String, &'a Value)> {
    resources(t)
        .iter()
        .filter(|(_, r)| r["Type"] == ty)
        .collect()
}

/// A string or a list of strings, as a list.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().expect("a string").to_string())
            .collect(),
        Value::Null => Vec::new(),
        other => panic!("expected a string or a list of strings, found {other}"),
    }
}

/// The logical id of the function resource built from `binary`.
fn function_id(t: &Value, binary: &str) -> String {
    let found: Vec<&String> = of_type(t, "AWS::Serverless::Function")
        .into_iter()
        .filter(|(_, r)| r["Metadata"]["BuildProperties"]["Binary"] == binary)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one function builds the binary {binary}: {found:?}"
    );
    found[0].clone()
}

fn function<'a>(t: &'a Value, binary: &str) -> &'a Value {
    &resources(t)[&function_id(t, binary)]
}

/// `(METHOD, /path)` as API Gateway and OpenAPI both write paths (`/v1/requests/{id}`).
type Route = (String, String);

/// The routes a function serves, from its router's own OpenAPI description.
fn served_routes(binary: &str) -> BTreeSet<Route> {
    let doc = match binary {
        "submit-request" => submit_request::router().split_for_parts().1,
        "verify-survey" => verify_survey::router().split_for_parts().1,
        "allocate-stock" => allocate_stock::router().split_for_parts().1,
        "notify" => return BTreeSet::new(),
        other => panic!("unknown function {other}"),
    };
    let doc = serde_json::to_value(&doc).expect("the OpenAPI document is JSON");
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "put", "post", "delete", "patch", "head", "options"] {
            if item.get(method).is_some() {
                routes.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    if binary == "submit-request" {
        routes.extend(
            basoka_web::meta::ROUTES
                .iter()
                .map(|(m, p)| (m.to_string(), p.to_string())),
        );
    }
    routes
}

/// Whether an HttpApi event is the API's `$default` route (no Path and no Method: SAM's
/// way to declare it).
fn is_default_route(e: &Value) -> bool {
    e["Type"] == "HttpApi"
        && e["Properties"]["Path"].is_null()
        && e["Properties"]["Method"].is_null()
}

/// The HttpApi events of a function resource but the `$default` route: route → whether it is
/// open (no authorizer).
fn template_routes(f: &Value) -> BTreeMap<Route, bool> {
    let mut routes = BTreeMap::new();
    let Some(events) = f["Properties"]["Events"].as_object() else {
        return routes;
    };
    for (name, e) in events {
        if e["Type"] != "HttpApi" {
            continue;
        }
        let p = &e["Properties"];
        assert_eq!(
            p["ApiId"],
            json!({"!Ref": "Api"}),
            "{name}: on the one HTTP API"
        );
        if is_default_route(e) {
            continue;
        }
        let method = p["Method"].as_str().expect("Method").to_ascii_uppercase();
        let path = p["Path"].as_str().expect("Path").to_string();
        let open = p["Auth"]["Authorizer"] == "NONE";
        assert!(
            routes.insert((method, path), open).is_none(),
            "{name}: the route is listed twice"
        );
    }
    routes
}

#[test]
fn the_template_builds_exactly_the_four_functions_for_arm64_with_cargo_lambda() {
    let t = template();
    let declared: BTreeSet<String> = of_type(&t, "AWS::Serverless::Function")
        .into_iter()
        .map(|(id, r)| {
            assert_eq!(r["Metadata"]["BuildMethod"], "rust-cargolambda", "{id}");
            r["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_else(|| panic!("{id}: Metadata.BuildProperties.Binary"))
                .to_string()
        })
        .collect();
    let expected: BTreeSet<String> = FUNCTIONS.iter().map(|(b, _)| b.to_string()).collect();
    assert_eq!(declared, expected);
    for (binary, _) in FUNCTIONS {
        let p = &function(&t, binary)["Properties"];
        assert_eq!(p["Runtime"], "provided.al2023", "{binary}");
        assert_eq!(p["Architectures"], json!(["arm64"]), "{binary}");
        assert_eq!(p["Handler"], "bootstrap", "{binary}");
        assert!(
            p["MemorySize"].is_u64() && p["Timeout"].is_u64(),
            "{binary}: memory and timeout are chosen"
        );
        // SAM resolves CodeUri against infra/: the function's own crate, with its binary.
        let code = p["CodeUri"].as_str().expect("CodeUri");
        assert_eq!(code, format!("../functions/{binary}"), "{binary}");
        let dir = root().join("infra").join(code);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("the crate");
        assert!(
            manifest.contains(&format!("name = \"{binary}\"")),
            "{binary}: package name"
        );
        assert!(
            dir.join("src/main.rs").is_file(),
            "{binary}: its Lambda entry point"
        );
    }
}

#[test]
fn every_function_is_routed_exactly_the_routes_it_serves() {
    let t = template();
    let mut everything = BTreeSet::new();
    for (binary, _) in FUNCTIONS {
        let routed: BTreeSet<Route> = template_routes(function(&t, binary)).into_keys().collect();
        let served = served_routes(binary);
        let missing: Vec<_> = served.difference(&routed).collect();
        let extra: Vec<_> = routed.difference(&served).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{binary}: served but not in the template: {missing:?}; in the template but not served: {extra:?}"
        );
        for r in routed {
            assert!(
                everything.insert(r.clone()),
                "{r:?} is routed to two functions"
            );
        }
    }
    // The local runner serves the same set on one port (the black-box tests use it).
    assert!(everything.len() >= 20, "{} routes in all", everything.len());
}

/// API Gateway's `$default` route (what no route matches) goes to `submit-request`, behind
/// the default authorizer, and that function answers every unmatched request with the
/// problem+json 404 / 405 of the local runner (`lambda_events.rs` feeds it such requests).
#[test]
fn unmatched_requests_reach_submit_request_through_the_default_route_with_the_authorizer() {
    let t = template();
    let mut defaults = Vec::new();
    for (binary, _) in FUNCTIONS {
        if let Some(events) = function(&t, binary)["Properties"]["Events"].as_object() {
            for (name, e) in events {
                if is_default_route(e) {
                    assert_eq!(e["Properties"]["ApiId"], json!({"!Ref": "Api"}), "{name}");
                    assert!(
                        e["Properties"]["Auth"].is_null(),
                        "{name}: the $default route keeps the default authorizer"
                    );
                    defaults.push(binary);
                }
            }
        }
    }
    assert_eq!(
        defaults,
        ["submit-request"],
        "one $default route, to submit-request"
    );
    // The function knows the whole API for its 405 answers: every route of the template.
    let api: BTreeSet<Route> = submit_request::api_routes().into_iter().collect();
    let routed: BTreeSet<Route> = FUNCTIONS
        .iter()
        .flat_map(|(b, _)| template_routes(function(&t, b)).into_keys())
        .collect();
    assert_eq!(api, routed);
}

#[test]
fn only_health_openapi_and_kelurahan_are_open_every_other_route_needs_a_token() {
    let t = template();
    let api = &resources(&t)["Api"]["Properties"];
    assert_eq!(api["Auth"]["DefaultAuthorizer"], "CognitoIdToken");
    let jwt = &api["Auth"]["Authorizers"]["CognitoIdToken"]["JwtConfiguration"];
    assert_eq!(jwt["audience"], json!([{"!Ref": "UserPoolClient"}]));
    let open: BTreeSet<Route> = FUNCTIONS
        .iter()
        .flat_map(|(b, _)| template_routes(function(&t, b)))
        .filter(|(_, open)| *open)
        .map(|(r, _)| r)
        .collect();
    let meta: BTreeSet<Route> = basoka_web::meta::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(open, meta);
}

/// The statements of a function's inline policies.
fn statements(binary: &str, f: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for policy in f["Properties"]["Policies"].as_array().expect("Policies") {
        // SAM policy templates and managed policy names cannot be checked here: only inline
        // documents.
        let s = policy["Statement"]
            .as_array()
            .unwrap_or_else(|| panic!("{binary}: only inline policy documents, found {policy}"));
        out.extend(s.iter().cloned());
    }
    out
}

/// The event source mappings of the template: function logical id → queue logical id.
fn queue_mappings(t: &Value) -> BTreeMap<String, (String, Value)> {
    of_type(t, "AWS::Lambda::EventSourceMapping")
        .into_iter()
        .map(|(id, m)| {
            let p = &m["Properties"];
            let function = p["FunctionName"]["!Ref"]
                .as_str()
                .expect("FunctionName: !Ref");
            let queue = p["EventSourceArn"]["!GetAtt"]
                .as_str()
                .and_then(|a| a.strip_suffix(".Arn"))
                .unwrap_or_else(|| panic!("{id}: EventSourceArn: !GetAtt <Queue>.Arn"));
            (function.to_string(), (queue.to_string(), p.clone()))
        })
        .collect()
}

#[test]
fn every_function_may_call_exactly_the_aws_actions_of_its_ports_and_nothing_else() {
    let t = template();
    let mappings = queue_mappings(&t);
    for (binary, ports) in FUNCTIONS {
        // The table, and its indexes only for a function that queries (GetItem, PutItem… on
        // an index ARN mean nothing).
        let queries = basoka_aws::calls::iam_actions(ports).contains("dynamodb:Query");
        let table_resources = if queries {
            json!([{"!GetAtt": "Table.Arn"}, {"!Sub": "${Table.Arn}/index/*"}])
        } else {
            json!({"!GetAtt": "Table.Arn"})
        };
        let id = function_id(&t, binary);
        let f = function(&t, binary);
        let mut allowed = BTreeSet::new();
        let mut sqs = BTreeSet::new();
        for s in statements(binary, f) {
            let actions = strings(&s["Action"]);
            for a in &actions {
                assert!(!a.contains('*'), "{binary}: wildcard action {a}");
            }
            if s["Effect"] == "Deny" {
                continue;
            }
            assert_eq!(s["Effect"], "Allow", "{binary}: {s}");
            for a in actions {
                let (service, _) = a.split_once(':').expect("service:Action");
                match service {
                    "dynamodb" => {
                        assert_eq!(
                            s["Resource"], table_resources,
                            "{binary}: {a} on the table (and its indexes if it queries) only"
                        );
                        allowed.insert(a);
                    }
                    "sns" => {
                        allowed.insert(a);
                    }
                    "sqs" => {
                        sqs.insert((a, s["Resource"].to_string()));
                    }
                    other => panic!("{binary}: {other} actions are not made by this code: {a}"),
                }
            }
        }
        let expected: BTreeSet<String> = basoka_aws::calls::iam_actions(ports)
            .into_iter()
            .map(str::to_string)
            .collect();
        assert_eq!(
            allowed, expected,
            "{binary}: the template's DynamoDB/SNS actions vs the actions of its ports {ports:?}"
        );
        // Lambda polls a mapped queue with the function's role: those four actions, on that
        // queue only; a function without a queue gets none.
        match mappings.get(&id) {
            Some((queue, _)) => {
                let on_queue = json!({"!GetAtt": format!("{queue}.Arn")}).to_string();
                let want: BTreeSet<(String, String)> = [
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "sqs:ChangeMessageVisibility",
                ]
                .into_iter()
                .map(|a| (a.to_string(), on_queue.clone()))
                .collect();
                assert_eq!(sqs, want, "{binary}: consumes {queue}");
            }
            None => assert!(sqs.is_empty(), "{binary} has no queue: {sqs:?}"),
        }
        let sends_sms = ports.contains(&Port::Sms);
        assert_eq!(sends_sms, binary == "notify", "only notify may send SMS");
        if sends_sms {
            // sns:Publish to a phone number needs Resource "*"; a Deny takes every topic and
            // endpoint ARN away, so the role sends SMS and nothing else.
            let denied = statements(binary, f).into_iter().any(|s| {
                s["Effect"] == "Deny"
                    && strings(&s["Action"]) == ["sns:Publish"]
                    && s["Resource"] == json!({"!Sub": "arn:${AWS::Partition}:sns:*:*:*"})
            });
            assert!(denied, "{binary}: publishing to topics is denied");
        }
    }
}

/// The functions that have SQS fixtures in `events/` (fed to their real handlers by
/// `lambda_events.rs`).
fn functions_with_queue_fixtures() -> BTreeSet<String> {
    FUNCTIONS
        .iter()
        .filter(|(binary, _)| {
            std::fs::read_dir(root().join("events").join(binary))
                .expect("events/<function>")
                .any(|e| {
                    let name = e.expect("entry").file_name();
                    name.to_string_lossy().starts_with("sqs-")
                })
        })
        .map(|(b, _)| b.to_string())
        .collect()
}

#[test]
fn the_event_transport_is_stream_pipe_topic_and_one_queue_per_consumer() {
    let t = template();
    let r = resources(&t);

    // Table stream → pipe (outbox inserts only, each record as it is) → events topic.
    let pipe = &r["OutboxPipe"]["Properties"];
    assert_eq!(pipe["Source"], json!({"!GetAtt": "Table.StreamArn"}));
    assert_eq!(pipe["Target"], json!({"!Ref": "EventsTopic"}));
    let filters = pipe["SourceParameters"]["FilterCriteria"]["Filters"]
        .as_array()
        .expect("filters");
    assert_eq!(filters.len(), 1);
    let pattern: Value =
        serde_json::from_str(filters[0]["Pattern"].as_str().expect("pattern")).expect("JSON");
    let code_pattern: Value =
        serde_json::from_str(basoka_aws::stream::PIPE_FILTER_PATTERN).expect("JSON");
    assert_eq!(pattern, code_pattern);
    // No input template: the pipe publishes each record as it is (adapters/aws/src/stream.rs
    // says why), and the consumers unwrap it.
    assert!(
        pipe["TargetParameters"]["InputTemplate"].is_null()
            && pipe["TargetParameters"]["InputTransformation"].is_null(),
        "the pipe must not rewrite the records: {}",
        pipe["TargetParameters"]
    );
    // The filter, applied to the stream fixture, publishes the record a consumer unwraps.
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("events/stream/outbox-insert.json")).unwrap(),
    )
    .unwrap();
    assert!(basoka_aws::stream::is_outbox_insert(&record));
    let body = basoka_aws::stream_record_to_message(&record)
        .unwrap()
        .unwrap();
    let event = basoka_aws::outbox_event(&serde_json::from_str(&body).unwrap()).unwrap();
    assert_eq!(
        serde_json::to_string(&event).unwrap(),
        record["dynamodb"]["NewImage"]["event"]["S"]
            .as_str()
            .unwrap()
    );

    // Queue mappings: exactly the functions with queue fixtures, partial batch failures.
    let mappings = queue_mappings(&t);
    let mapped: BTreeSet<String> = FUNCTIONS
        .iter()
        .filter(|(b, _)| mappings.contains_key(&function_id(&t, b)))
        .map(|(b, _)| b.to_string())
        .collect();
    assert_eq!(mapped, functions_with_queue_fixtures());
    let mut queues = BTreeMap::new();
    for (binary, _) in FUNCTIONS {
        let id = function_id(&t, binary);
        let Some((queue, mapping)) = mappings.get(&id) else {
            continue;
        };
        assert_eq!(
            mapping["FunctionResponseTypes"],
            json!(["ReportBatchItemFailures"]),
            "{binary}"
        );
        let q = &r[queue]["Properties"];
        let dlq = q["RedrivePolicy"]["deadLetterTargetArn"]["!GetAtt"]
            .as_str()
            .unwrap_or_else(|| panic!("{queue} has a dead-letter queue"));
        assert!(
            r.contains_key(dlq.trim_end_matches(".Arn")),
            "{queue}: {dlq}"
        );
        let timeout = function(&t, binary)["Properties"]["Timeout"]
            .as_u64()
            .unwrap();
        let visibility = q["VisibilityTimeout"].as_u64().expect("VisibilityTimeout");
        assert!(
            visibility >= 6 * timeout,
            "{queue}: visibility {visibility} s < 6 × the function's {timeout} s"
        );
        queues.insert(queue.clone(), binary);
    }

    // Topic → queues: raw delivery; allocate-stock's filter is what it consumes, notify gets
    // every event.
    let mut subscribed = BTreeSet::new();
    for (id, s) in of_type(&t, "AWS::SNS::Subscription") {
        let p = &s["Properties"];
        if p["TopicArn"] != json!({"!Ref": "EventsTopic"}) {
            continue;
        }
        let queue = p["Endpoint"]["!GetAtt"]
            .as_str()
            .and_then(|a| a.strip_suffix(".Arn"))
            .unwrap_or_else(|| panic!("{id}: Endpoint: !GetAtt <Queue>.Arn"));
        let binary = queues
            .get(queue)
            .unwrap_or_else(|| panic!("{id}: {queue} is no function's queue"));
        assert_eq!(p["Protocol"], "sqs", "{id}");
        assert_eq!(
            p["RawMessageDelivery"], true,
            "{id}: the body is the stream record, not an SNS envelope"
        );
        match *binary {
            "allocate-stock" => {
                assert_eq!(p["FilterPolicyScope"], "MessageBody", "{id}");
                // The whole policy: an extra key (which every message must then match) or a
                // missing event type is drift.
                assert_eq!(
                    p["FilterPolicy"],
                    basoka_aws::stream::subscription_filter_policy(
                        &shared::fulfilment::CONSUMED_EVENTS
                    ),
                    "{id}"
                );
                assert_fixtures_pass_the_filter(&p["FilterPolicy"]);
            }
            "notify" => assert!(p["FilterPolicy"].is_null(), "{id}: notify gets every event"),
            other => panic!("{other} has a queue but no rule here"),
        }
        assert!(
            subscribed.insert(queue.to_string()),
            "{queue} subscribed twice"
        );
    }
    let all: BTreeSet<String> = queues.keys().cloned().collect();
    assert_eq!(
        subscribed, all,
        "every consumer queue is subscribed to the events topic"
    );

    // notify's scheduled retry is the task the function knows, as the fixture has it.
    let schedule = &function(&t, "notify")["Properties"]["Events"]["RetryFailedSms"];
    assert_eq!(schedule["Type"], "Schedule");
    let input: Value =
        serde_json::from_str(schedule["Properties"]["Input"].as_str().unwrap()).unwrap();
    assert_eq!(input, json!({"basoka": notify::lambda::RETRY_TASK}));
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("events/notify/schedule-retry-failed-sms.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(input, fixture);

    // allocate-stock's daily low-stock check, likewise.
    let schedule = &function(&t, "allocate-stock")["Properties"]["Events"]["CheckLowStock"];
    assert_eq!(schedule["Type"], "Schedule");
    let input: Value =
        serde_json::from_str(schedule["Properties"]["Input"].as_str().unwrap()).unwrap();
    assert_eq!(
        input,
        json!({"basoka": allocate_stock::lambda::LOW_STOCK_TASK})
    );
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(
            root().join("events/allocate-stock/schedule-check-low-stock.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(input, fixture);
}

/// The SQS fixtures are what arrives on AWS: every allocate-stock fixture that carries an
/// event passes its subscription's filter, and notify's fixtures of the other event types do
/// not (allocate-stock never sees them).
fn assert_fixtures_pass_the_filter(policy: &Value) {
    use basoka_aws::stream::filter_policy_accepts;
    let consumed = shared::fulfilment::CONSUMED_EVENTS;
    for (dir, must_pass) in [("allocate-stock", true), ("notify", false)] {
        for f in std::fs::read_dir(root().join("events").join(dir)).unwrap() {
            let path = f.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !name.starts_with("sqs-") {
                continue;
            }
            let fixture: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            for m in fixture["Records"].as_array().unwrap() {
                let body: Value = serde_json::from_str(m["body"].as_str().unwrap()).unwrap();
                let Ok(event) = basoka_aws::outbox_event(&body) else {
                    // The bad messages of a batch, and bare-event fixtures, are no records.
                    continue;
                };
                let passes = filter_policy_accepts(policy, &body);
                if must_pass {
                    assert!(passes, "{name}: allocate-stock's filter drops it");
                } else {
                    assert_eq!(
                        passes,
                        consumed.contains(&event.type_name()),
                        "{name}: {}",
                        event.type_name()
                    );
                }
            }
        }
    }
}

#[test]
fn the_table_is_the_one_the_adapter_creates() {
    let t = template();
    let mut props = resources(&t)["Table"]["Properties"].clone();
    let props = props.as_object_mut().unwrap();
    // Set by the deployment, not by the adapter's design.
    assert_eq!(
        props.remove("TableName"),
        Some(json!({"!Sub": "basoka-${City}-${Stage}"}))
    );
    assert!(props.remove("DeletionProtectionEnabled").is_some());
    assert_eq!(
        Value::Object(props.clone()),
        basoka_aws::cloudformation_properties()
    );
    assert_eq!(resources(&t)["Table"]["DeletionPolicy"], "Retain");
}

/// Each function's environment variables in the code (`<function>::lambda::ENVIRONMENT`, next
/// to the `main.rs` that reads them).
fn environment_of(binary: &str) -> &'static [&'static str] {
    match binary {
        "submit-request" => submit_request::lambda::ENVIRONMENT,
        "verify-survey" => verify_survey::lambda::ENVIRONMENT,
        "allocate-stock" => allocate_stock::lambda::ENVIRONMENT,
        "notify" => notify::lambda::ENVIRONMENT,
        other => panic!("unknown function {other}"),
    }
}

#[test]
fn every_function_gets_exactly_the_environment_its_code_reads_from_the_right_source() {
    let t = template();
    let known: BTreeSet<&str> = basoka_aws::config::ENVIRONMENT
        .into_iter()
        .chain(basoka_lambda::settings::ENVIRONMENT)
        .collect();
    // Where a value must come from: the stack's own resources and parameters, not a literal
    // that would drift from them.
    let sources = json!({
        "BASOKA_TABLE": {"!Ref": "Table"},
        "BASOKA_HASH_KEY": {"!Sub": "{{resolve:secretsmanager:${HashKeySecret}:SecretString}}"},
        "BASOKA_TARGET_MAX_DESIL": {"!Ref": "TargetMaxDesil"},
        "BASOKA_COOLDOWN_DAYS": {"!Ref": "CooldownDays"},
        "BASOKA_SMS_SENDER_ID": {"!Ref": "SmsSenderId"},
        "BASOKA_DINAS_PHONE": {"!Ref": "DinasDutyPhone"},
        "BASOKA_GUDANG_PHONE": {"!Ref": "GudangPhone"},
    });
    for (binary, _) in FUNCTIONS {
        let vars = function(&t, binary)["Properties"]["Environment"]["Variables"]
            .as_object()
            .unwrap_or_else(|| panic!("{binary}: Environment.Variables"));
        let set: BTreeSet<&str> = vars.keys().map(String::as_str).collect();
        let wanted: BTreeSet<&str> = environment_of(binary).iter().copied().collect();
        assert_eq!(
            set, wanted,
            "{binary}: the template's variables vs lambda::ENVIRONMENT"
        );
        for (name, value) in vars {
            assert!(
                known.contains(name.as_str()),
                "{binary}: {name} is read by no code"
            );
            match sources.get(name) {
                Some(source) => assert_eq!(value, source, "{binary}: {name}"),
                None if name == "RUST_LOG" => {
                    assert!(value.is_string(), "{binary}: RUST_LOG is a filter")
                }
                // The numbers: literals the code accepts.
                None => {
                    let n: u64 = value
                        .as_str()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or_else(|| panic!("{binary}: {name} = {value}: a whole number"));
                    let sane = match name.as_str() {
                        "BASOKA_IDEMPOTENCY_TTL_HOURS" => (1..=24 * 30).contains(&n),
                        "BASOKA_OUTBOX_TTL_DAYS" => (1..=35).contains(&n),
                        "BASOKA_SMS_MAX_ATTEMPTS" => (1..=20).contains(&n),
                        _ => false,
                    };
                    assert!(sane, "{binary}: {name} = {n}");
                }
            }
        }
    }
}

#[test]
fn the_user_pool_carries_the_claims_the_functions_read() {
    let t = template();
    let r = resources(&t);
    let custom: BTreeSet<String> = r["UserPool"]["Properties"]["Schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["Name"].as_str().unwrap().to_string())
        .collect();
    for a in ["name", "phone_number", "role", "kelurahan"] {
        assert!(custom.contains(a), "attribute {a}");
    }
    let client = &r["UserPoolClient"]["Properties"];
    let read: BTreeSet<String> = strings(&client["ReadAttributes"]).into_iter().collect();
    for claim in ["name", "phone_number", "custom:role", "custom:kelurahan"] {
        assert!(read.contains(claim), "ID tokens carry {claim}");
    }
    // Users cannot give themselves a role, another kelurahan or another SMS number.
    let write: BTreeSet<String> = strings(&client["WriteAttributes"]).into_iter().collect();
    for claim in ["phone_number", "custom:role", "custom:kelurahan"] {
        assert!(!write.contains(claim), "{claim} is set by admins only");
    }
    // The claims as the authorizer hands them over make a caller.
    let caller = shared::Caller::from_claims(&json!({
        "sub": "0f1e", "name": "Staf Kelurahan", "custom:role": "kelurahan",
        "custom:kelurahan": "32.75.01.1001", "phone_number": "+6281211110001"
    }))
    .expect("Cognito's claim names");
    assert_eq!(caller.kelurahan.unwrap().as_str(), "32.75.01.1001");
}

/// Whether CloudFormation accepts `value` for the String parameter `p` (its `AllowedPattern`,
/// which must match the whole value, and its `MinLength`/`MaxLength`).
fn parameter_accepts(p: &Value, value: &str) -> bool {
    let len = value.chars().count() as u64;
    if p["MaxLength"].as_u64().is_some_and(|max| len > max)
        || p["MinLength"].as_u64().is_some_and(|min| len < min)
    {
        return false;
    }
    match p["AllowedPattern"].as_str() {
        Some(pattern) => regex::Regex::new(&format!("^(?:{pattern})$"))
            .expect("the pattern is a regular expression")
            .is_match(value),
        None => true,
    }
}

#[test]
fn the_parameters_refuse_what_the_functions_refuse() {
    let t = template();
    // SmsSenderId: empty (no sender ID), or what notify's cold start accepts. A digits-only or
    // too long ID must stop the deployment, not every cold start of notify.
    let sender = &t["Parameters"]["SmsSenderId"];
    for id in [
        "",
        "DINSOSBKS",
        "A",
        "a",
        "BKS2026",
        "12345A",
        "A2345678901",
        "1",
        "12345678901",
        "123456789012",
        "ABCDEFGHIJKL",
        "DINSOS-BKS",
        "DINSOS BKS",
        "DÏNSOS",
        "ABCDEFGHIJ1234567890Z",
    ] {
        let code = id.is_empty() || basoka_aws::config::sms_sender_id_is_valid(id);
        assert_eq!(
            parameter_accepts(sender, id),
            code,
            "SmsSenderId {id:?}: template vs adapters/aws/src/config.rs"
        );
    }
    // The office mobiles: what notify's settings parse as a mobile number, in E.164.
    for name in ["DinasDutyPhone", "GudangPhone"] {
        let p = &t["Parameters"][name];
        for phone in [
            "+6281211110001",
            "+628121111000",
            "+62812111100012",
            "+628121111",
            "+62812111100012345",
            "+6284211110001",
            "+62215550100",
            "+14155550100",
            "081211110001",
            "SET-ME-+628...",
        ] {
            let code = shared::Phone::parse(phone).is_ok_and(|p| p.as_str() == phone);
            assert_eq!(parameter_accepts(p, phone), code, "{name} {phone:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// IAM beyond the functions' actions, the transport's switches, the authorizer
// ---------------------------------------------------------------------------------------------

/// Every IAM policy statement of the template, with where it is.
fn all_statements(t: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut take = |at: String, doc: &Value| {
        if let Some(statements) = doc["Statement"].as_array() {
            out.extend(statements.iter().map(|s| (at.clone(), s.clone())));
        }
    };
    for (id, r) in resources(t) {
        let p = &r["Properties"];
        match r["Type"].as_str().unwrap_or_default() {
            "AWS::Serverless::Function" => {
                for (i, policy) in p["Policies"].as_array().into_iter().flatten().enumerate() {
                    take(format!("{id}.Policies[{i}]"), policy);
                }
            }
            "AWS::IAM::Role" => {
                take(
                    format!("{id}.AssumeRolePolicyDocument"),
                    &p["AssumeRolePolicyDocument"],
                );
                for (i, policy) in p["Policies"].as_array().into_iter().flatten().enumerate() {
                    take(format!("{id}.Policies[{i}]"), &policy["PolicyDocument"]);
                }
            }
            "AWS::IAM::Policy"
            | "AWS::IAM::ManagedPolicy"
            | "AWS::IAM::RolePolicy"
            | "AWS::SQS::QueuePolicy"
            | "AWS::SNS::TopicPolicy" => {
                take(format!("{id}.PolicyDocument"), &p["PolicyDocument"]);
            }
            _ => {}
        }
    }
    out
}

#[test]
fn no_statement_allows_by_exclusion() {
    // An Allow with NotAction or NotResource grants everything but a list: never least
    // privilege, and it grows with every new AWS action.
    for (at, s) in all_statements(&template()) {
        if s["Effect"] == "Allow" {
            for not in ["NotAction", "NotResource", "NotPrincipal"] {
                assert!(s[not].is_null(), "{at}: an Allow with {not}: {s}");
            }
        }
        assert!(
            s["Effect"] == "Allow" || s["Effect"] == "Deny",
            "{at}: Effect {}",
            s["Effect"]
        );
    }
}

#[test]
fn function_roles_hold_only_the_inline_policies_sam_builds() {
    let t = template();
    let mut function_roles = BTreeSet::new();
    for (id, f) in of_type(&t, "AWS::Serverless::Function") {
        let p = &f["Properties"];
        // With Role, SAM uses that role and ignores Policies: the checked statements would
        // not be the function's.
        assert!(p["Role"].is_null(), "{id}: an explicit Role");
        for extra in ["PermissionsBoundary", "RolePath"] {
            assert!(p[extra].is_null(), "{id}: {extra}");
        }
        function_roles.insert(format!("{id}Role"));
    }
    // Nothing else attached to the roles SAM creates (<Function>Role).
    for (id, r) in resources(&t) {
        let ty = r["Type"].as_str().unwrap_or_default();
        if !matches!(
            ty,
            "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" | "AWS::IAM::RolePolicy"
        ) {
            continue;
        }
        let p = &r["Properties"];
        let mut roles: Vec<&Value> = p["Roles"].as_array().into_iter().flatten().collect();
        roles.push(&p["RoleName"]);
        for role in roles {
            let name = role["!Ref"].as_str().or(role.as_str()).unwrap_or_default();
            assert!(
                !function_roles.contains(name),
                "{id} ({ty}) is attached to the function role {name}"
            );
        }
    }
    // notify's Deny of topic publishing is unconditional (a Condition would let some
    // requests through).
    let notify = function(&t, "notify");
    let denies: Vec<Value> = statements("notify", notify)
        .into_iter()
        .filter(|s| s["Effect"] == "Deny")
        .collect();
    assert_eq!(denies.len(), 1, "{denies:?}");
    let keys: BTreeSet<&str> = denies[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["Action", "Effect", "Resource", "Sid"]),
        "notify's Deny has no Condition: {}",
        denies[0]
    );
}

#[test]
fn only_the_events_topic_may_send_to_the_consumer_queues() {
    let t = template();
    let r = resources(&t);
    // The queues the topic delivers to: the subscribed consumer queues and the delivery DLQ
    // of the subscriptions.
    let mut targets = BTreeSet::new();
    for (_, s) in of_type(&t, "AWS::SNS::Subscription") {
        let p = &s["Properties"];
        if p["TopicArn"] != json!({"!Ref": "EventsTopic"}) {
            continue;
        }
        for arn in [&p["Endpoint"], &p["RedrivePolicy"]["deadLetterTargetArn"]] {
            let queue = arn["!GetAtt"].as_str().and_then(|a| a.strip_suffix(".Arn"));
            targets.insert(queue.expect("!GetAtt <Queue>.Arn").to_string());
        }
    }
    let policies: Vec<(&String, &Value)> = of_type(&t, "AWS::SQS::QueuePolicy");
    let on_targets: Vec<&(&String, &Value)> = policies
        .iter()
        .filter(|(_, p)| {
            strings_of_refs(&p["Properties"]["Queues"])
                .iter()
                .any(|q| targets.contains(q))
        })
        .collect();
    assert_eq!(
        on_targets.len(),
        1,
        "one queue policy for the topic's queues"
    );
    let (id, policy) = on_targets[0];
    let p = &policy["Properties"];
    assert_eq!(
        strings_of_refs(&p["Queues"]),
        targets,
        "{id}: exactly the topic's queues"
    );
    let statements = p["PolicyDocument"]["Statement"]
        .as_array()
        .expect("Statement");
    assert_eq!(statements.len(), 1, "{id}: one statement");
    let s = &statements[0];
    let resources_named: BTreeSet<String> = s["Resource"]
        .as_array()
        .expect("a list of queue ARNs")
        .iter()
        .map(|a| {
            a["!GetAtt"]
                .as_str()
                .and_then(|a| a.strip_suffix(".Arn"))
                .unwrap_or_else(|| panic!("{id}: Resource {a}"))
                .to_string()
        })
        .collect();
    let keys: BTreeSet<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
    assert!(
        keys.is_subset(&BTreeSet::from([
            "Sid",
            "Effect",
            "Principal",
            "Action",
            "Resource",
            "Condition"
        ])),
        "{id}: {s}"
    );
    assert_eq!(s["Effect"], "Allow", "{id}");
    assert_eq!(
        s["Principal"],
        json!({"Service": "sns.amazonaws.com"}),
        "{id}"
    );
    assert_eq!(strings(&s["Action"]), ["sqs:SendMessage"], "{id}");
    assert_eq!(resources_named, targets, "{id}: to the topic's queues only");
    assert_eq!(
        s["Condition"],
        json!({"ArnEquals": {"aws:SourceArn": {"!Ref": "EventsTopic"}}}),
        "{id}: from the events topic only"
    );
    assert!(r.contains_key("EventsTopic"));
}

/// `[!Ref A, !Ref B]` as `{A, B}`.
fn strings_of_refs(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|q| q["!Ref"].as_str().expect("!Ref <Queue>").to_string())
        .collect()
}

#[test]
fn the_pipe_role_reads_the_stream_and_publishes_to_the_topic_and_nothing_else() {
    let t = template();
    let r = resources(&t);
    let pipe = &r["OutboxPipe"]["Properties"];
    assert_eq!(pipe["RoleArn"], json!({"!GetAtt": "PipeRole.Arn"}));
    let dlq = &pipe["SourceParameters"]["DynamoDBStreamParameters"]["DeadLetterConfig"]["Arn"];
    let logs = &pipe["LogConfiguration"]["CloudwatchLogsLogDestination"]["LogGroupArn"];
    let role = &r["PipeRole"]["Properties"];
    // Trusted by EventBridge Pipes only, for this account.
    let trust = role["AssumeRolePolicyDocument"]["Statement"]
        .as_array()
        .unwrap();
    assert_eq!(trust.len(), 1);
    assert_eq!(
        trust[0]["Principal"],
        json!({"Service": "pipes.amazonaws.com"})
    );
    assert_eq!(strings(&trust[0]["Action"]), ["sts:AssumeRole"]);
    assert_eq!(
        trust[0]["Condition"]["StringEquals"]["aws:SourceAccount"],
        json!({"!Ref": "AWS::AccountId"})
    );
    for absent in ["ManagedPolicyArns", "PermissionsBoundary"] {
        assert!(role[absent].is_null(), "PipeRole: {absent}");
    }
    let policies = role["Policies"].as_array().expect("Policies");
    assert_eq!(policies.len(), 1, "PipeRole: one inline policy");
    // Its statements, exactly: (effect, actions, resource).
    let got: BTreeSet<(String, BTreeSet<String>, String)> =
        policies[0]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let keys: BTreeSet<&str> =
                    s.as_object().unwrap().keys().map(String::as_str).collect();
                assert!(
                    keys.is_subset(&BTreeSet::from(["Sid", "Effect", "Action", "Resource"])),
                    "PipeRole: {s}"
                );
                (
                    s["Effect"].as_str().unwrap().to_string(),
                    strings(&s["Action"]).into_iter().collect(),
                    s["Resource"].to_string(),
                )
            })
            .collect();
    let allow = |actions: &[&str], resource: &Value| {
        (
            "Allow".to_string(),
            actions
                .iter()
                .map(|a| a.to_string())
                .collect::<BTreeSet<_>>(),
            resource.to_string(),
        )
    };
    let want = BTreeSet::from([
        allow(
            &[
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
            ],
            &json!({"!GetAtt": "Table.StreamArn"}),
        ),
        // ListStreams has no resource type: "*" is the only Resource IAM takes for it.
        allow(&["dynamodb:ListStreams"], &json!("*")),
        allow(&["sns:Publish"], &json!({"!Ref": "EventsTopic"})),
        allow(&["sqs:SendMessage"], dlq),
        allow(&["logs:CreateLogStream", "logs:PutLogEvents"], logs),
    ]);
    assert_eq!(got, want, "PipeRole's statements");
    assert_eq!(dlq, &json!({"!GetAtt": "PipeDeadLetterQueue.Arn"}));
    assert_eq!(logs, &json!({"!GetAtt": "PipeLogs.Arn"}));
}

#[test]
fn the_transport_is_switched_on_and_retries_a_sane_number_of_times() {
    let t = template();
    let r = resources(&t);
    let pipe = &r["OutboxPipe"]["Properties"];
    // RUNNING, from the oldest record the stream holds (nothing committed before the pipe
    // existed, or while it was being replaced, is skipped).
    assert_eq!(pipe["DesiredState"], "RUNNING");
    assert_eq!(
        pipe["SourceParameters"]["DynamoDBStreamParameters"]["StartingPosition"],
        "TRIM_HORIZON"
    );
    for (id, m) in of_type(&t, "AWS::Lambda::EventSourceMapping") {
        let enabled = &m["Properties"]["Enabled"];
        assert!(
            enabled.is_null() || enabled == &json!(true),
            "{id}: Enabled {enabled}"
        );
    }
    // A failing event is retried a few times, then set aside: not at once (a transient
    // conflict would dead-letter it), not for ever.
    for (id, q) in of_type(&t, "AWS::SQS::Queue") {
        let redrive = &q["Properties"]["RedrivePolicy"];
        if redrive.is_null() {
            continue;
        }
        let n = redrive["maxReceiveCount"]
            .as_u64()
            .unwrap_or_else(|| panic!("{id}: maxReceiveCount"));
        assert!((3..=10).contains(&n), "{id}: maxReceiveCount {n}");
    }
    // notify's retry of failed SMS runs.
    let schedule = &function(&t, "notify")["Properties"]["Events"]["RetryFailedSms"]["Properties"];
    let enabled = &schedule["Enabled"];
    assert!(
        enabled.is_null() || enabled == &json!(true),
        "RetryFailedSms: Enabled {enabled}"
    );
    let state = &schedule["State"];
    assert!(
        state.is_null() || state == "ENABLED",
        "RetryFailedSms: State {state}"
    );
}

#[test]
fn the_authorizer_trusts_the_stacks_user_pool_and_asks_for_no_scopes() {
    let t = template();
    let r = resources(&t);
    let api = &r["Api"]["Properties"];
    let jwt = &api["Auth"]["Authorizers"]["CognitoIdToken"];
    assert_eq!(
        jwt["JwtConfiguration"]["issuer"],
        json!({"!Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}"}),
        "the issuer is this stack's user pool"
    );
    assert_eq!(jwt["IdentitySource"], "$request.header.Authorization");
    // ID tokens carry no scopes: a scope requirement anywhere would refuse every caller.
    assert!(
        jwt["AuthorizationScopes"].is_null(),
        "the authorizer: AuthorizationScopes"
    );
    for (binary, _) in FUNCTIONS {
        if let Some(events) = function(&t, binary)["Properties"]["Events"].as_object() {
            for (name, e) in events {
                assert!(
                    e["Properties"]["Auth"]["AuthorizationScopes"].is_null(),
                    "{binary} {name}: AuthorizationScopes"
                );
            }
        }
    }
    // The $default stage: no stage prefix in the paths the functions route (and the alarm's
    // Stage dimension).
    let stage = &api["StageName"];
    assert!(
        stage.is_null() || stage == "$default",
        "a named StageName: {stage}"
    );
}
