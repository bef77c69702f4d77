//! The third-party SCIM server `scim2-server` (PyPI), for contract tests against a real
//! implementation. `scripts/test` installs it into `.venv`.
//!
//! One server runs per test binary, started on first use with `--dynamic-tenants`; each
//! test takes a fresh tenant with [`scim2_server_tenant`], so tests share the process but
//! never each other's users and groups. A tenant exists from the first request to
//! `http://HOST:PORT/<tenant>/...`: nothing needs creating.
//!
//! How the server goes away: it runs inside a small Python wrapper whose standard input is
//! a pipe from the test process, held open for the life of the test binary. A thread of the
//! wrapper blocks reading that pipe; at end of file it ends the whole process
//! (`os._exit`). The kernel closes the pipe whenever the test binary ends, however it ends
//! (normal exit, panic, `SIGKILL`), so the server never outlives it. The wrapper runs the
//! `scim2-server` entry point in its own process (`runpy`), so there is no grandchild to
//! orphan. (`PR_SET_PDEATHSIG` would not do: it fires when the *thread* that spawned the
//! child ends, and test threads end after each test.)
//!
//! The wrapper also raises the listen backlog from Python's default of 5 to 128. With 5,
//! a dozen concurrent connections overflow the accept queue: requests stall for a second
//! and some POSTs are reset (`ECONNRESET`). That is TCP plumbing of Python's `wsgiref`
//! server, not SCIM behaviour, and parallel tests would flake on it.
//!
//! The port: `--port 0` does bind a free port, but the server announces
//! `http://127.0.0.1:0/v2` and nothing else tells which one, so a free port is found here
//! by binding port 0, then passed; if another process takes it in between, the server
//! exits with "Address already in use" and a new port is tried.

#![allow(clippy::panic, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The bearer token the server accepts.
const TOKEN: &str = "rollcall-scim2-server-token";

/// How long the server has to answer after it is started.
const STARTUP: Duration = Duration::from_secs(20);

/// How many ports are tried when the chosen one is taken before the server binds it.
const PORT_ATTEMPTS: usize = 5;

/// How much of the server's standard error is kept, from its end.
const LOG_LIMIT: usize = 64 * 1024;

/// Runs `argv[1]` (the `scim2-server` script) with the arguments after it, in this process,
/// and ends the process as soon as standard input reaches end of file. The server's exit
/// status and error output are passed on.
const WRAPPER: &str = r#"
import os, runpy, socketserver, sys, threading, traceback

def watch_parent():
    # The test process holds the other end of stdin: end of file means it has gone.
    while os.read(0, 4096):
        pass
    os._exit(0)

threading.Thread(target=watch_parent, daemon=True).start()
socketserver.TCPServer.request_queue_size = 128
server = sys.argv[1]
sys.argv = sys.argv[1:]
status = 1
try:
    runpy.run_path(server, run_name="__main__")
    status = 0
except SystemExit as exit:
    if exit.code is None or isinstance(exit.code, int):
        status = exit.code or 0
    else:
        print(exit.code, file=sys.stderr)
except BaseException:
    traceback.print_exc()
sys.stdout.flush()
sys.stderr.flush()
# Not a normal shutdown, which would wait on the thread blocked reading stdin.
os._exit(status)
"#;

/// A tenant of the shared server: its own users and groups.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// The SCIM base URL, to which a client appends `/Users`, `/Groups`, ...
    /// (`http://127.0.0.1:PORT/<tenant>/v2`).
    pub base_url: String,
    /// The bearer token the server accepts.
    pub token: String,
}

struct Server {
    port: u16,
    log: Arc<Mutex<String>>,
    // Never dropped: the pipe stays open until the test binary ends, and the server with it.
    _stdin: ChildStdin,
    _child: Child,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static NEXT_TENANT: AtomicU64 = AtomicU64::new(1);

/// A fresh tenant of this test binary's `scim2-server`, started on first use.
///
/// Panics, naming `scripts/test`, when the server is not installed or does not answer
/// within 20 seconds.
pub fn scim2_server_tenant() -> Tenant {
    let server = server();
    let n = NEXT_TENANT.fetch_add(1, Ordering::Relaxed);
    Tenant {
        base_url: format!("http://127.0.0.1:{}/tenant-{n}/v2", server.port),
        token: TOKEN.to_owned(),
    }
}

/// The last lines the server wrote to standard error (one line per request), for the
/// message of a failing test.
pub fn scim2_server_log() -> String {
    lock(&server().log).clone()
}

fn server() -> &'static Server {
    match SERVER.get_or_init(start) {
        Ok(server) => server,
        Err(message) => panic!("{message}"),
    }
}

/// The interpreter of `.venv`: `ROLLCALL_PYTHON`, else the repository's `.venv`.
fn python() -> PathBuf {
    std::env::var_os("ROLLCALL_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"))
}

fn start() -> Result<Server, String> {
    let python = python();
    // Not canonicalized: `.venv/bin/python` is a link out of the venv, `scim2-server` is beside it.
    let script = python.with_file_name("scim2-server");
    if !python.exists() || !script.exists() {
        return Err(format!(
            "no scim2-server at {} (next to the Python at {}): run scripts/test, which creates .venv \
             and installs it (or set ROLLCALL_PYTHON to an interpreter whose bin directory has it)",
            script.display(),
            python.display()
        ));
    }
    let mut failures = Vec::new();
    for _ in 0..PORT_ATTEMPTS {
        match start_on(&python, &script, free_port()?) {
            Ok(server) => return Ok(server),
            Err(Failure::PortTaken(log)) => failures.push(log),
            Err(Failure::Fatal(message)) => return Err(message),
        }
    }
    Err(format!(
        "scim2-server found each of {PORT_ATTEMPTS} ports taken; its last error:\n{}",
        failures.last().map_or("", String::as_str)
    ))
}

enum Failure {
    PortTaken(String),
    Fatal(String),
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free local port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free local port: {e}"))
}

fn start_on(python: &PathBuf, script: &PathBuf, port: u16) -> Result<Server, Failure> {
    let command_line = format!(
        "{} -c WRAPPER {} --hostname 127.0.0.1 --port {port} --bearer-token {TOKEN} --dynamic-tenants",
        python.display(),
        script.display()
    );
    let mut child = Command::new(python)
        .arg("-c")
        .arg(WRAPPER)
        .arg(script)
        .args(["--hostname", "127.0.0.1", "--port", &port.to_string()])
        .args(["--bearer-token", TOKEN, "--dynamic-tenants"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Failure::Fatal(format!(
                "could not start scim2-server ({command_line}): {e}; run scripts/test, which installs it"
            ))
        })?;
    let stdin = child.stdin.take().expect("stdin is piped");
    let log = Arc::new(Mutex::new(String::new()));
    let drain = drain(child.stderr.take().expect("stderr is piped"), Arc::clone(&log));

    let deadline = Instant::now() + STARTUP;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            // Everything it wrote is in the log once the pipe is closed.
            let _ = drain.join();
            let log = lock(&log).clone();
            if log.contains("Address already in use") {
                return Err(Failure::PortTaken(log));
            }
            return Err(Failure::Fatal(format!(
                "scim2-server exited ({status}) before answering; run scripts/test to (re)install it.\n\
                 command: {command_line}\nits standard error:\n{log}"
            )));
        }
        if answers(port) {
            // Still ours: a server that lost the port to another process would have exited.
            if let Ok(None) = child.try_wait() {
                return Ok(Server {
                    port,
                    log,
                    _stdin: stdin,
                    _child: child,
                });
            }
            continue;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let _ = drain.join();
            return Err(Failure::Fatal(format!(
                "scim2-server did not answer on port {port} within {STARTUP:?}; run scripts/test to \
                 (re)install it.\ncommand: {command_line}\nits standard error:\n{}",
                lock(&log)
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Copies the server's standard error into `log`, keeping its last `LOG_LIMIT` bytes, so
/// that the pipe never fills and blocks the server.
fn drain(stderr: impl Read + Send + 'static, log: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let mut log = lock(&log);
            log.push_str(&line);
            log.push('\n');
            if log.len() > LOG_LIMIT {
                let mut cut = log.len() - LOG_LIMIT;
                while !log.is_char_boundary(cut) {
                    cut += 1;
                }
                log.drain(..cut);
            }
        }
    })
}

/// Whether a SCIM server answers on the port: its ServiceProviderConfig (no token needed).
fn answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /rollcall-probe/v2/ServiceProviderConfig HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    if stream.read_to_string(&mut response).is_err() {
        return false;
    }
    response.split_whitespace().nth(1) == Some("200")
        && response.contains("urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig")
}

fn lock(log: &Mutex<String>) -> std::sync::MutexGuard<'_, String> {
    log.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
