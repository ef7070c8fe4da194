//! JSON log lines on stdout (CloudWatch Logs through the awslogs driver), one object per line,
//! always carrying the run id and user id.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

/// A JSON line logger bound to one job.
#[derive(Debug, Clone)]
pub struct JsonLog {
    run_id: String,
    user_id: String,
    capture: Option<Arc<Mutex<Vec<Value>>>>,
}

impl JsonLog {
    /// Log to stdout.
    pub fn stdout(run_id: &str, user_id: &str) -> Self {
        Self {
            run_id: run_id.into(),
            user_id: user_id.into(),
            capture: None,
        }
    }

    /// Log to memory (tests read the lines with [`Self::lines`]).
    pub fn capture(run_id: &str, user_id: &str) -> Self {
        Self {
            run_id: run_id.into(),
            user_id: user_id.into(),
            capture: Some(Arc::new(Mutex::new(Vec::new()))),
        }
    }

    /// Emit one line: `{"level","event","run_id","user_id","time",...fields}`.
    pub fn event(&self, level: &str, event: &str, fields: Value) {
        let mut m = Map::new();
        m.insert("level".into(), json!(level));
        m.insert("event".into(), json!(event));
        m.insert("run_id".into(), json!(self.run_id));
        m.insert("user_id".into(), json!(self.user_id));
        m.insert(
            "time".into(),
            json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        );
        if let Value::Object(f) = fields {
            m.extend(f);
        }
        let v = Value::Object(m);
        match &self.capture {
            Some(c) => {
                if let Ok(mut l) = c.lock() {
                    l.push(v);
                }
            }
            None => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{v}");
                let _ = out.flush();
            }
        }
    }

    /// Captured lines (empty when logging to stdout).
    pub fn lines(&self) -> Vec<Value> {
        self.capture
            .as_ref()
            .and_then(|c| c.lock().ok().map(|l| l.clone()))
            .unwrap_or_default()
    }
}
