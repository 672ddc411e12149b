//! The everyday client flows of `/api/v2` against a spawned server, with a real HTTP client:
//! a template from an uploaded archive (files, template version import, template), a
//! prebuild-backed preset that converges and is claimed, a workspace watched (SSE) through
//! stop and start, its build logs, autostart, TTL, deadline extension, cancel, delete, and
//! the audit log of all of it.

use std::io::BufRead;
use std::sync::mpsc;
use std::time::Duration;
use std::time::Instant;

use serde_json::Value;
use serde_json::json;

use crate::support::api::*;
use crate::support::*;

/// A tar archive holding `coderlite.json` (and a file the import ignores).
fn archive(document: &Value) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, data) in [("main.tf", b"# not read".to_vec()), ("coderlite.json", document.to_string().into_bytes())] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, &data[..]).unwrap();
    }
    builder.into_inner().unwrap()
}

/// `POST /files` with raw bytes of `content_type`: (status, body).
fn upload(e: &Env, content_type: &str, data: &[u8]) -> (u16, Value) {
    let res = e
        .agent
        .post(format!("{}/files", e.base))
        .header("Coder-Session-Token", &e.owner)
        .header("Content-Type", content_type)
        .send(data)
        .unwrap();
    let status = res.status().as_u16();
    (status, serde_json::from_str(&res.into_body().read_to_string().unwrap_or_default()).unwrap_or(Value::Null))
}

/// Polls `path` until `done` holds for its body (10 s at most).
fn wait_for(e: &Env, path: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let answer = e.get(path, &e.owner);
        if answer.status == 200 && done(&answer.body) {
            return answer.body;
        }
        assert!(Instant::now() < deadline, "{what}: last answer {} {}", answer.status, answer.text);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Opens `GET /workspaces/{id}/watch` and sends each event as (type, data) to the channel.
fn watch(e: &Env, workspace: &str) -> mpsc::Receiver<(String, Value)> {
    let res = e
        .agent
        .get(format!("{}/workspaces/{workspace}/watch", e.base))
        .header("Coder-Session-Token", &e.owner)
        .call()
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers().get("content-type").unwrap(), "text/event-stream");
    let (tx, rx) = mpsc::channel();
    let reader = std::io::BufReader::new(res.into_body().into_reader());
    std::thread::spawn(move || {
        let mut event = String::new();
        for line in reader.lines() {
            let Ok(line) = line else { return };
            if let Some(name) = line.strip_prefix("event: ") {
                event = name.to_owned();
                if event == "ping" && tx.send((event.clone(), Value::Null)).is_err() {
                    return;
                }
            } else if let Some(data) = line.strip_prefix("data: ") {
                let value = serde_json::from_str(data).unwrap_or(Value::Null);
                if tx.send((event.clone(), value)).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// Follows a build's logs over a WebSocket as upstream's client does (`?follow`), with a
/// hand-written client (the handshake, then unmasked server frames): the JSON lines, and the
/// close frame's code and reason.
fn follow_logs(e: &Env, build: &str) -> (Vec<Value>, u16, String) {
    use std::io::Read;
    use std::io::Write;
    let host = e.base.trim_start_matches("http://").split('/').next().unwrap().to_owned();
    let mut stream = std::net::TcpStream::connect(&host).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    write!(
        stream,
        "GET /api/v2/workspacebuilds/{build}/logs?follow HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Coder-Session-Token: {}\r\n\r\n",
        e.owner
    )
    .unwrap();
    let mut reader = std::io::BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 101"), "{status}");
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
    }
    let mut lines = Vec::new();
    loop {
        let mut head = [0u8; 2];
        reader.read_exact(&mut head).unwrap();
        let opcode = head[0] & 0x0f;
        let mut len = u64::from(head[1] & 0x7f);
        if len == 126 {
            let mut ext = [0u8; 2];
            reader.read_exact(&mut ext).unwrap();
            len = u64::from(u16::from_be_bytes(ext));
        } else if len == 127 {
            let mut ext = [0u8; 8];
            reader.read_exact(&mut ext).unwrap();
            len = u64::from_be_bytes(ext);
        }
        let mut payload = vec![0u8; len as usize];
        reader.read_exact(&mut payload).unwrap();
        match opcode {
            1 => lines.push(serde_json::from_slice(&payload).unwrap()),
            8 => {
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                return (lines, code, String::from_utf8_lossy(&payload[2..]).into_owned());
            }
            _ => {}
        }
    }
}

/// Waits for a `data` event whose workspace satisfies `done`.
fn wait_event(events: &mpsc::Receiver<(String, Value)>, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok((kind, data)) if kind == "data" && done(&data) => return data,
            Ok(_) => {}
            Err(_) => panic!("no watch event: {what}"),
        }
    }
}

contract_tests! {
    /// The whole flow a Coder client takes, end to end.
    fn a_template_from_an_archive_a_claimed_prebuild_and_a_workspace_lifecycle(engine) {
        let e = env_with(engine, FAST);
        let org = e.get("/organizations/default", &e.owner).body["id"].as_str().unwrap().to_owned();

        // Files: upstream's content types; the same bytes twice are one file (201, then 200).
        let document = json!({
            "parameters": [{ "name": "region", "default": "eu" }],
            "presets": [{ "name": "warm", "desired_instances": 1, "parameters": { "region": "us" } }]
        });
        let data = archive(&document);
        let (status, file) = upload(&e, "application/x-tar", &data);
        assert_eq!(status, 201, "{file}");
        let file_id = file["hash"].as_str().unwrap().to_owned();
        assert_eq!(upload(&e, "application/x-tar", &data), (200, json!({ "hash": file_id })));
        let (status, refused) = upload(&e, "text/plain", b"x");
        assert_eq!((status, refused["message"].as_str()), (400, Some("Unsupported content type header \"text/plain\".")));
        let fetched = e.agent.get(format!("{}/files/{file_id}", e.base)).header("Coder-Session-Token", &e.owner).call().unwrap();
        assert_eq!(fetched.headers().get("content-type").unwrap(), "application/x-tar");
        assert_eq!(fetched.into_body().read_to_vec().unwrap(), data);

        // A version whose import job reads the archive.
        let version = e.post(&format!("/organizations/{org}/templateversions"), &e.owner,
            json!({ "name": "v1", "storage_method": "file", "file_id": file_id, "provisioner": "echo" }));
        assert_eq!(version.status, 201, "{}", version.text);
        assert_eq!(version.body["job"]["file_id"], file_id.as_str());
        assert_eq!(version.body["job"]["type"], "template_version_import");
        let version_id = version.body["id"].as_str().unwrap().to_owned();
        wait_for(&e, &format!("/templateversions/{version_id}"), "import succeeds", |v| v["job"]["status"] == "succeeded");
        let logs = e.get(&format!("/templateversions/{version_id}/logs"), &e.owner).body;
        assert!(logs.as_array().unwrap().iter().any(|l| l["stage"] == "Parsing template parameters"), "{logs}");
        let presets = e.get(&format!("/templateversions/{version_id}/presets"), &e.owner).body;
        assert_eq!(presets[0]["Name"], "warm");
        let preset_id = presets[0]["ID"].as_str().unwrap().to_owned();

        // A template around it; the name is taken once it exists.
        let create = json!({ "name": "flow", "template_version_id": version_id, "default_ttl_ms": 3_600_000 });
        let template = e.post(&format!("/organizations/{org}/templates"), &e.owner, create.clone());
        assert_eq!(template.status, 201, "{}", template.text);
        assert_eq!(template.body["active_version_id"], version_id.as_str());
        let template_id = template.body["id"].as_str().unwrap().to_owned();
        let again = e.post(&format!("/organizations/{org}/templates"), &e.owner, create);
        assert_eq!((again.status, again.body["validations"][0]["field"].as_str()), (409, Some("name")));

        // Settings: a change answers the template, the same settings again 304 with no body.
        let meta = json!({ "display_name": "Flow", "default_ttl_ms": 3_600_000, "activity_bump_ms": 3_600_000,
            "allow_user_autostart": true, "allow_user_autostop": true, "allow_user_cancel_workspace_jobs": true });
        let patched = e.call("PATCH", &format!("/templates/{template_id}"), Some(&e.owner), Some(&meta));
        assert_eq!((patched.status, patched.body["display_name"].as_str()), (200, Some("Flow")), "{}", patched.text);
        let same = e.call("PATCH", &format!("/templates/{template_id}"), Some(&e.owner), Some(&meta));
        assert_eq!((same.status, same.text.as_str()), (304, ""));
        let bad = e.call("PATCH", &format!("/templates/{template_id}"), Some(&e.owner), Some(&json!({ "failure_ttl_ms": 1000 })));
        assert_eq!((bad.status, bad.body["message"].as_str()), (400, Some("Invalid request to update template metadata!")));

        // The preset's prebuild converges, and a create with the preset claims it.
        let prebuilds = wait_for(&e, "/workspaces?q=owner:prebuilds%20template:flow", "the prebuild runs", |b| {
            b["workspaces"].as_array().is_some_and(|w| w.len() == 1 && w[0]["latest_build"]["status"] == "running")
        });
        let prebuild_id = prebuilds["workspaces"][0]["id"].as_str().unwrap().to_owned();
        let created = e.post("/users/me/workspaces", &e.owner, json!({ "name": "mine", "template_id": template_id,
            "template_version_preset_id": preset_id, "ttl_ms": 7_200_000 }));
        assert_eq!(created.status, 201, "{}", created.text);
        let ws = created.body["id"].as_str().unwrap().to_owned();
        assert_eq!(ws, prebuild_id, "the ready prebuild was claimed");
        let claimed = wait_for(&e, &format!("/workspaces/{ws}"), "the claim's build finishes", |w| w["latest_build"]["status"] == "running");
        assert_eq!(claimed["owner_name"], "admin");

        // Watch: a ping, the workspace at once, then every change.
        let events = watch(&e, &ws);
        assert_eq!(events.recv_timeout(Duration::from_secs(10)).unwrap().0, "ping");
        wait_event(&events, "the current workspace", |w| w["id"] == ws.as_str());
        let stop = e.post(&format!("/workspaces/{ws}/builds"), &e.owner, json!({ "transition": "stop" }));
        assert_eq!(stop.status, 201, "{}", stop.text);
        let stopped = wait_event(&events, "stopped", |w| w["latest_build"]["status"] == "stopped");
        assert_eq!(stopped["latest_build"]["transition"], "stop");

        // The stop build's logs, and `after`.
        let stop_id = stop.body["id"].as_str().unwrap();
        let lines = e.get(&format!("/workspacebuilds/{stop_id}/logs"), &e.owner).body;
        let lines = lines.as_array().unwrap().clone();
        assert!(lines.iter().any(|l| l["stage"] == "Stopping workspace"), "{lines:?}");
        assert_eq!(keys_of(&lines[0]), ["created_at", "id", "log_level", "log_source", "output", "stage"]);
        let last = lines.last().unwrap()["id"].as_i64().unwrap();
        assert_eq!(e.get(&format!("/workspacebuilds/{stop_id}/logs?after={last}"), &e.owner).body, json!([]));
        let after = e.get(&format!("/workspacebuilds/{stop_id}/logs?after=x"), &e.owner);
        assert_eq!((after.status, after.body["message"].as_str()), (400, Some("Query param \"after\" must be an integer.")));

        // Autostart and TTL, then a start: its deadline is the TTL from completion; extend it.
        let autostart = e.call("PUT", &format!("/workspaces/{ws}/autostart"), Some(&e.owner),
            Some(&json!({ "schedule": "CRON_TZ=UTC 30 9 * * 1-5" })));
        assert_eq!(autostart.status, 204, "{}", autostart.text);
        let ttl = e.call("PUT", &format!("/workspaces/{ws}/ttl"), Some(&e.owner), Some(&json!({ "ttl_ms": 3_600_000 })));
        assert_eq!(ttl.status, 204, "{}", ttl.text);
        let start = e.post(&format!("/workspaces/{ws}/builds"), &e.owner, json!({ "transition": "start" }));
        assert_eq!(start.status, 201);
        // Followed from the start: every line as it is written, then a normal close.
        let (followed, code, reason) = follow_logs(&e, start.body["id"].as_str().unwrap());
        assert_eq!((code, reason.as_str()), (1000, "done"));
        let stages: Vec<&str> = followed.iter().map(|l| l["stage"].as_str().unwrap()).collect();
        assert_eq!(stages, ["Setting up", "Planning infrastructure", "Starting workspace", "Cleaning Up"]);
        let started = wait_event(&events, "started", |w| w["latest_build"]["status"] == "running");
        assert_eq!((started["ttl_ms"].as_i64(), started["autostart_schedule"].as_str()), (Some(3_600_000), Some("CRON_TZ=UTC 30 9 * * 1-5")));
        assert!(started["latest_build"]["deadline"].is_string(), "{}", started["latest_build"]);
        let later = (chrono::Utc::now() + chrono::Duration::hours(3)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let extended = e.call("PUT", &format!("/workspaces/{ws}/extend"), Some(&e.owner), Some(&json!({ "deadline": later })));
        assert_eq!((extended.status, extended.body["message"].as_str()), (200, Some(format!("Deadline updated to {later}.").as_str())));
        wait_event(&events, "the new deadline", |w| w["latest_build"]["deadline"] == later.as_str());
        let soon = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339();
        let refused = e.call("PUT", &format!("/workspaces/{ws}/extend"), Some(&e.owner), Some(&json!({ "deadline": soon })));
        assert_eq!(refused.status, 400);
        assert_eq!(refused.body["message"], "Cannot extend workspace: new deadline must be at least 30 minutes in the future");

        // A finished build cannot be canceled.
        let done = e.call("PATCH", &format!("/workspacebuilds/{stop_id}/cancel"), Some(&e.owner), None);
        assert_eq!((done.status, done.body["message"].as_str()), (400, Some("Job has already completed!")));

        // Delete: a delete build, then the workspace answers 410.
        assert_eq!(e.post(&format!("/workspaces/{ws}/builds"), &e.owner, json!({ "transition": "delete" })).status, 201);
        let deadline = Instant::now() + Duration::from_secs(15);
        while e.get(&format!("/workspaces/{ws}"), &e.owner).status != 410 {
            assert!(Instant::now() < deadline, "the workspace was never deleted");
            std::thread::sleep(Duration::from_millis(50));
        }

        // The older create path answers as the newer one.
        let member = e.post(&format!("/organizations/{org}/members/me/workspaces"), &e.owner,
            json!({ "name": "other", "template_id": template_id }));
        assert_eq!(member.status, 201, "{}", member.text);

        // The audit log saw all of it, filtered as upstream filters.
        let audit = e.get("/audit?q=resource_type:template%20action:create", &e.owner).body;
        assert_eq!(audit["count"], 1, "{audit}");
        assert_eq!(audit["audit_logs"][0]["resource_target"], "flow");
        assert_eq!(audit["audit_logs"][0]["description"], "{user} created template {target}");
        assert_eq!(audit["audit_logs"][0]["user"]["username"], "admin");
        let builds = e.get("/audit?q=resource_type:workspace_build%20username:me", &e.owner).body;
        let actions: Vec<&str> = builds["audit_logs"].as_array().unwrap().iter().map(|l| l["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["delete", "start", "stop"], "newest first: {builds}");
        let paged = e.get("/audit?limit=1&offset=1&q=resource_type:workspace_build", &e.owner).body;
        assert_eq!((paged["audit_logs"].as_array().unwrap().len(), paged["count"].as_i64()), (1, Some(3)));
        let bad = e.get("/audit?q=bogus:x%20action:fly%20date_from:yesterday", &e.owner);
        assert_eq!((bad.status, bad.body["message"].as_str()), (400, Some("Invalid audit search query.")));
        let fields: Vec<&str> = bad.body["validations"].as_array().unwrap().iter().map(|v| v["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["bogus", "action", "date_from"]);
        assert_eq!(bad.body["validations"][0]["detail"], "Query param \"bogus\" is not a valid query param");
        let (_, member_token) = e.member("auditee");
        assert_eq!(e.get("/audit", &member_token).status, 403);
    }

    /// An import whose document breaks the fixture rules fails its job with the fixture
    /// loader's message, and writes nothing of it.
    fn an_invalid_version_document_fails_the_import(engine) {
        let e = env_with(engine, FAST);
        let org = e.get("/organizations/default", &e.owner).body["id"].as_str().unwrap().to_owned();
        let bad = json!({ "parameters": [{ "name": "p" }], "presets": [{ "name": "x", "desired_instances": -1 }] });
        let (status, file) = upload(&e, "application/x-tar", &archive(&bad));
        assert_eq!(status, 201);
        let version = e.post(&format!("/organizations/{org}/templateversions"), &e.owner,
            json!({ "storage_method": "file", "file_id": file["hash"], "provisioner": "echo" }));
        assert_eq!(version.status, 201, "{}", version.text);
        assert!(version.body["name"].as_str().unwrap().starts_with("version-"), "a generated name");
        let id = version.body["id"].as_str().unwrap().to_owned();
        let failed = wait_for(&e, &format!("/templateversions/{id}"), "the import fails", |v| v["job"]["status"] == "failed");
        assert_eq!(failed["job"]["error"], "coderlite.json: presets[0].desired_instances: must not be negative, got -1");
        assert_eq!(e.get(&format!("/templateversions/{id}/rich-parameters"), &e.owner).body, json!([]), "rolled back");
        let terraform = e.post(&format!("/organizations/{org}/templateversions"), &e.owner,
            json!({ "storage_method": "file", "file_id": file["hash"], "provisioner": "terraform" }));
        assert_eq!(terraform.status, 400);
        let missing = e.post(&format!("/organizations/{org}/templateversions"), &e.owner,
            json!({ "storage_method": "file", "file_id": shapes_nil(), "provisioner": "echo" }));
        assert_eq!((missing.status, missing.body["message"].as_str()), (404, Some("File not found.")));
    }

    /// Cancel: a running job is marked canceled once, and is canceling until its provisioner
    /// stops (upstream's messages).
    fn a_build_in_flight_is_canceled_once(engine) {
        let e = env_with(engine, &["--provisioner-delay", "1m"]);
        let template = e.get("/organizations/coder/templates/docker", &e.owner).body;
        let created = e.post("/users/me/workspaces", &e.owner, json!({ "name": "slow", "template_id": template["id"],
            "rich_parameter_values": [{ "name": "cpu", "value": "2" }] }));
        assert_eq!(created.status, 201, "{}", created.text);
        let build = created.body["latest_build"]["id"].as_str().unwrap().to_owned();
        wait_for(&e, &format!("/workspacebuilds/{build}"), "the job runs", |b| b["job"]["status"] == "running");
        let expected = e.call("PATCH", &format!("/workspacebuilds/{build}/cancel?expect_status=pending"), Some(&e.owner), None);
        assert_eq!((expected.status, expected.body["message"].as_str()), (412, Some("Job is not in the expected state.")));
        let bad = e.call("PATCH", &format!("/workspacebuilds/{build}/cancel?expect_status=done"), Some(&e.owner), None);
        assert_eq!(bad.body["message"], "Invalid expect_status \"done\". Only 'running' or 'pending' are allowed.");
        let canceled = e.call("PATCH", &format!("/workspacebuilds/{build}/cancel"), Some(&e.owner), None);
        assert_eq!((canceled.status, canceled.body["message"].as_str()), (200, Some("Job has been marked as canceled...")), "{}", canceled.text);
        let twice = e.call("PATCH", &format!("/workspacebuilds/{build}/cancel"), Some(&e.owner), None);
        assert_eq!((twice.status, twice.body["message"].as_str()), (400, Some("Job has already been marked as canceled!")));
        let job = e.get(&format!("/workspacebuilds/{build}"), &e.owner).body["job"].clone();
        assert_eq!(job["status"], "canceling", "{job}");
        assert!(job["canceled_at"].is_string());
    }
}

fn keys_of(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn shapes_nil() -> &'static str {
    "00000000-0000-0000-0000-000000000000"
}
