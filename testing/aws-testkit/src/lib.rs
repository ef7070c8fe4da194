//! Test support for the AWS adapters (dev-dependency only; panics are fine here).
//!
//! [`Moto::start`] reuses the moto server named by `FOOTFALL_MOTO_URL` (the test scripts start
//! one on a free loopback port and stop it afterwards), or else starts its own `moto_server` on a
//! free loopback port and kills it when dropped. Resource names must be unique per test
//! ([`unique`]) because tests share one server.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use serde_json::Value;

pub use reqwest;

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

/// A running moto server.
pub struct Moto {
    pub endpoint: String,
    child: Option<Child>,
    http: reqwest::Client,
}

/// The `moto_server` program to run: `$MOTO_SERVER` if set, else the one in the virtualenv of
/// `scripts/setup.sh` (`$FOOTFALL_VENV/bin`, else `${XDG_CACHE_HOME:-~/.cache}/footfall-venv/bin`),
/// else `moto_server` from `PATH`. So a plain `cargo test` finds it without the venv on `PATH`.
pub fn moto_server_program() -> PathBuf {
    if let Some(p) = std::env::var_os("MOTO_SERVER").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    testdata::venv_tool("moto_server")
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A name unique to this process and call, lower case, starting with `prefix`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{}",
        std::process::id(),
        nanos % 100_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

impl Moto {
    pub async fn start() -> Moto {
        let http = reqwest::Client::new();
        if let Ok(url) = std::env::var("FOOTFALL_MOTO_URL")
            && !url.is_empty()
        {
            let m = Moto {
                endpoint: url.trim_end_matches('/').to_string(),
                child: None,
                http,
            };
            m.wait_ready().await;
            return m;
        }
        Self::start_private().await
    }

    /// Always start a server of our own (even when `FOOTFALL_MOTO_URL` names a shared one). Use
    /// it for Lambda functions: once moto holds a Lambda function, its `/moto-api/data.json`
    /// answers 500 (it probes Docker), which would break SNS checks on a shared server.
    pub async fn start_private() -> Moto {
        let http = reqwest::Client::new();
        let port = free_port();
        let bin = moto_server_program();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start moto_server ({}): {e}; run scripts/setup.sh, which installs it \
                     into the virtualenv $FOOTFALL_VENV (default ~/.cache/footfall-venv)",
                    bin.display()
                )
            });
        let m = Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            child: Some(child),
            http,
        };
        m.wait_ready().await;
        m
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = self
                .http
                .get(format!("{}/moto-api/data.json", self.endpoint))
                .send()
                .await
                && r.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "moto at {} never answered",
                self.endpoint
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// SDK configuration pointing at this server, with static test credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new(
                "testing", "testing", None, None, "testkit",
            ))
            .endpoint_url(&self.endpoint)
            .load()
            .await
    }

    /// moto's record of everything (SNS sent messages are under `sns.Topic[].sent_notifications`).
    pub async fn data_json(&self) -> Value {
        self.http
            .get(format!("{}/moto-api/data.json", self.endpoint))
            .send()
            .await
            .expect("data.json")
            .json()
            .await
            .expect("data.json is JSON")
    }

    /// Messages published to the topic with this ARN: `(subject, message)` pairs.
    pub async fn sns_sent(&self, topic_arn: &str) -> Vec<(Option<String>, String)> {
        let data = self.data_json().await;
        let mut out = Vec::new();
        for t in data["sns"]["Topic"].as_array().into_iter().flatten() {
            if t["arn"].as_str() != Some(topic_arn) {
                continue;
            }
            for n in t["sent_notifications"].as_array().into_iter().flatten() {
                // [message_id, message, subject, attributes, group_id]
                out.push((
                    n[2].as_str().map(str::to_string),
                    n[1].as_str().unwrap_or_default().to_string(),
                ));
            }
        }
        out
    }

    /// Make Lambda Invoke work without Docker (call before CreateFunction).
    pub async fn lambda_without_docker(&self) {
        let r = self
            .http
            .post(format!("{}/moto-api/config", self.endpoint))
            .json(&serde_json::json!({"lambda": {"use_docker": false}}))
            .send()
            .await
            .expect("moto config");
        assert!(r.status().is_success(), "moto config: {}", r.status());
    }

    async fn query(&self, params: &[(&str, &str)]) -> String {
        let r = self
            .http
            .post(format!("{}/", self.endpoint))
            .header(
                "Authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=testing/20240101/{REGION}/{}/aws4_request, SignedHeaders=host, Signature=0",
                    if params.iter().any(|(k, v)| *k == "Version" && *v == "2010-05-08") {
                        "iam"
                    } else {
                        "ec2"
                    }
                ),
            )
            .form(params)
            .send()
            .await
            .expect("moto query");
        let status = r.status();
        let body = r.text().await.expect("moto query body");
        assert!(
            status.is_success(),
            "moto query {params:?}: {status} {body}"
        );
        body
    }

    /// moto's default VPC subnets and default security group, read through EC2
    /// DescribeSubnets / DescribeSecurityGroups (ECS RunTask on moto needs real ids).
    pub async fn default_network(&self) -> (Vec<String>, Vec<String>) {
        let subnets = xml_values(
            &self
                .query(&[("Action", "DescribeSubnets"), ("Version", "2016-11-15")])
                .await,
            "subnetId",
        );
        let sgs = xml_values(
            &self
                .query(&[
                    ("Action", "DescribeSecurityGroups"),
                    ("Version", "2016-11-15"),
                    ("Filter.1.Name", "group-name"),
                    ("Filter.1.Value.1", "default"),
                ])
                .await,
            "groupId",
        );
        assert!(
            !subnets.is_empty() && !sgs.is_empty(),
            "moto has no default network"
        );
        (subnets, sgs)
    }

    /// Register a Fargate task definition with one container through moto's JSON API and return
    /// its ARN. (Done without the Rust SDK on purpose: the SDK always sends a container `cpu`,
    /// and moto echoes container `cpu`/`memory` as numbers in RunTask/DescribeTasks where the
    /// ECS model has strings, which the SDK then refuses to parse. A container with only
    /// `memoryReservation` and no `cpu` avoids both; moto needs a container memory value.)
    pub async fn ecs_register_task_definition(&self, family: &str, container: &str) -> String {
        let body = serde_json::json!({
            "family": family,
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "1024",
            "memory": "2048",
            "containerDefinitions": [{
                "name": container,
                "image": "footfall-task:test",
                "memoryReservation": 2048,
                "essential": true
            }]
        });
        let r = self
            .http
            .post(format!("{}/", self.endpoint))
            .header("X-Amz-Target", "AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition")
            .header("Content-Type", "application/x-amz-json-1.1")
            .header(
                "Authorization",
                format!("AWS4-HMAC-SHA256 Credential=testing/20240101/{REGION}/ecs/aws4_request, SignedHeaders=host, Signature=0"),
            )
            .body(body.to_string())
            .send()
            .await
            .expect("RegisterTaskDefinition");
        let status = r.status();
        let v: Value = r.json().await.expect("RegisterTaskDefinition JSON");
        assert!(status.is_success(), "RegisterTaskDefinition: {status} {v}");
        v["taskDefinition"]["taskDefinitionArn"]
            .as_str()
            .expect("task definition ARN")
            .to_string()
    }

    /// A Secrets Manager secret holding `text`, under a unique name starting with `prefix`; its
    /// ARN (the form the footfall processes are configured with).
    pub async fn create_secret(&self, prefix: &str, text: &str) -> String {
        aws_sdk_secretsmanager::Client::new(&self.sdk_config().await)
            .create_secret()
            .name(unique(prefix))
            .secret_string(text)
            .send()
            .await
            .expect("CreateSecret")
            .arn()
            .expect("secret ARN")
            .to_string()
    }

    /// Create an IAM role (Lambda CreateFunction on moto needs one) and return its ARN.
    pub async fn create_role(&self, name: &str) -> String {
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        let body = self
            .query(&[
                ("Action", "CreateRole"),
                ("Version", "2010-05-08"),
                ("RoleName", name),
                ("AssumeRolePolicyDocument", policy),
            ])
            .await;
        xml_values(&body, "Arn")
            .into_iter()
            .next()
            .expect("role ARN")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// All `<tag>value</tag>` values in an XML document (enough for moto's query responses).
pub fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        rest = &rest[i + open.len()..];
        if let Some(j) = rest.find(&close) {
            out.push(rest[..j].trim().to_string());
            rest = &rest[j + close.len()..];
        }
    }
    out
}

/// A one-route HTTP server on loopback that records every request body and answers with
/// `status`. Returns its URL and the shared list of received bodies.
pub async fn recording_http_server(
    statuses: Vec<u16>,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = seen.clone();
    let url = serve_recording(
        statuses,
        std::sync::Arc::new(move |_head: String, body: String| {
            sink.lock().expect("lock").push(body)
        }),
    )
    .await;
    (url, seen)
}

/// One request as [`recording_http_server_with_headers`] saw it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Header names in lower case, values as sent.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Like [`recording_http_server`], keeping each request's headers too.
pub async fn recording_http_server_with_headers(
    statuses: Vec<u16>,
) -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<RecordedRequest>>>,
) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<RecordedRequest>::new()));
    let sink = seen.clone();
    let url = serve_recording(
        statuses,
        std::sync::Arc::new(move |head: String, body: String| {
            let headers = head
                .lines()
                .skip(1)
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            sink.lock()
                .expect("lock")
                .push(RecordedRequest { headers, body })
        }),
    )
    .await;
    (url, seen)
}

type Recorder = std::sync::Arc<dyn Fn(String, String) + Send + Sync>;

async fn serve_recording(statuses: Vec<u16>, record: Recorder) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut n = 0usize;
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let status = *statuses.get(n).or(statuses.last()).unwrap_or(&200);
            n += 1;
            let record = record.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 8192];
                // Read headers, then Content-Length bytes of body.
                let (head, body) = loop {
                    let Ok(k) = sock.read(&mut tmp).await else {
                        return;
                    };
                    if k == 0 {
                        return;
                    }
                    buf.extend_from_slice(&tmp[..k]);
                    if let Some(h) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..h]).to_string();
                        let len = head
                            .to_ascii_lowercase()
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:").map(str::to_string))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        while buf.len() < h + 4 + len {
                            let Ok(k) = sock.read(&mut tmp).await else {
                                return;
                            };
                            if k == 0 {
                                break;
                            }
                            buf.extend_from_slice(&tmp[..k]);
                        }
                        break (head, String::from_utf8_lossy(&buf[h + 4..]).to_string());
                    }
                };
                record(head, body);
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

pub use futures::future::join_all;

/// An ECS client for moto. moto renders a task's container `cpu` (always) and `memory` as JSON
/// numbers, where the ECS model has strings, and the Rust SDK rejects such RunTask/DescribeTasks
/// responses. This client's HTTP layer turns those numbers into strings before the SDK parses
/// them; nothing else changes. (Tests only: real ECS sends strings.)
pub fn ecs_client(sdk: &SdkConfig) -> aws_sdk_ecs::Client {
    let inner = aws_smithy_http_client::Builder::new().build_http();
    aws_sdk_ecs::Client::from_conf(
        aws_sdk_ecs::config::Builder::from(sdk)
            .http_client(MotoEcsFix { inner })
            .build(),
    )
}

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

#[derive(Debug, Clone)]
struct MotoEcsFix {
    inner: SharedHttpClient,
}

impl HttpClient for MotoEcsFix {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(MotoEcsFixConnector {
            inner: self.inner.http_connector(settings, components),
        })
    }
}

#[derive(Debug)]
struct MotoEcsFixConnector {
    inner: SharedHttpConnector,
}

impl HttpConnector for MotoEcsFixConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let fut = self.inner.call(request);
        HttpConnectorFuture::new(async move {
            let mut resp = fut.await?;
            let body = std::mem::replace(resp.body_mut(), SdkBody::taken());
            let bytes = aws_smithy_types::byte_stream::ByteStream::new(body)
                .collect()
                .await
                .map_err(|e| ConnectorError::io(Box::new(e)))?
                .into_bytes();
            let patched = match serde_json::from_slice::<Value>(&bytes) {
                Ok(mut v) => {
                    stringify_container_numbers(&mut v);
                    serde_json::to_vec(&v).unwrap_or_else(|_| bytes.to_vec())
                }
                Err(_) => bytes.to_vec(),
            };
            *resp.body_mut() = SdkBody::from(patched);
            Ok(resp)
        })
    }
}

fn stringify_container_numbers(v: &mut Value) {
    let tasks = match v.get_mut("tasks").and_then(Value::as_array_mut) {
        Some(t) => t,
        None => return,
    };
    for t in tasks {
        for c in t
            .get_mut("containers")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            for k in ["cpu", "memory", "memoryReservation"] {
                if let Some(n) = c.get(k).filter(|x| x.is_number()).map(|x| x.to_string()) {
                    c[k] = Value::String(n);
                }
            }
        }
    }
}
