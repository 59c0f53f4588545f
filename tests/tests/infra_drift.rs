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
//! * every environment variable the template sets is one the code reads.
//!
//! Pure file reading: needs no emulator and no network.

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

fn template() -> Value {
    let path = root().join("infra/template.yaml");
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

#[test]
fn every_environment_variable_the_template_sets_is_read_by_the_code() {
    let t = template();
    let known: BTreeSet<&str> = basoka_aws::config::ENVIRONMENT
        .into_iter()
        .chain(basoka_lambda::settings::ENVIRONMENT)
        .collect();
    for (binary, _) in FUNCTIONS {
        let vars = function(&t, binary)["Properties"]["Environment"]["Variables"]
            .as_object()
            .unwrap_or_else(|| panic!("{binary}: Environment.Variables"));
        for name in vars.keys() {
            assert!(
                known.contains(name.as_str()),
                "{binary}: {name} is read by no code (known: {known:?})"
            );
        }
        for required in ["BASOKA_TABLE", "BASOKA_HASH_KEY"] {
            assert!(vars.contains_key(required), "{binary}: {required}");
        }
        if binary == "notify" {
            for phone in [
                "BASOKA_DINAS_PHONE",
                "BASOKA_GUDANG_PHONE",
                "BASOKA_SMS_SENDER_ID",
            ] {
                assert!(vars.contains_key(phone), "{binary}: {phone}");
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
