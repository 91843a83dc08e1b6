//! A real `redis-server` on loopback for the shared rate-budget tests:
//! started on a free port without persistence, restartable on the same
//! port, killed on drop. `cargo xtask ci` installs Debian's `redis-server`
//! where it is missing; `REDIS_SERVER` names another binary.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server`, killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
}

impl RedisServer {
    /// Starts a server on a free loopback port and waits until it answers.
    ///
    /// # Panics
    ///
    /// When no `redis-server` can be found or it does not come up.
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut server = Self { child: None, port };
        server.launch();
        server
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server: connections fail until [`start_again`](Self::start_again).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, with no data (nothing is persisted).
    pub fn start_again(&mut self) {
        self.stop();
        self.launch();
    }

    /// Sends one inline command and returns the raw reply.
    pub fn command(&self, command: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to redis");
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        stream
            .write_all(format!("{command}\r\n").as_bytes())
            .expect("send");
        let mut reply = vec![0; 4096];
        let n = stream.read(&mut reply).expect("reply");
        String::from_utf8_lossy(&reply[..n]).into_owned()
    }

    /// Runs `EVAL script` with `keys` and `args`, sent in Redis's own
    /// protocol (a script spans lines), and returns the raw reply.
    pub fn eval(&self, script: &str, keys: &[&str], args: &[&str]) -> String {
        let numkeys = keys.len().to_string();
        let mut parts = vec!["EVAL", script, numkeys.as_str()];
        parts.extend_from_slice(keys);
        parts.extend_from_slice(args);
        let mut request = format!("*{}\r\n", parts.len());
        for part in parts {
            request.push_str(&format!("${}\r\n{part}\r\n", part.len()));
        }
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to redis");
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        stream.write_all(request.as_bytes()).expect("send");
        let mut reply = vec![0; 4096];
        let n = stream.read(&mut reply).expect("reply");
        String::from_utf8_lossy(&reply[..n]).into_owned()
    }

    fn launch(&mut self) {
        let binary = std::env::var_os("REDIS_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("redis-server"));
        let child = Command::new(&binary)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--protected-mode", "no", "--loglevel", "warning"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {} ({error}): install Redis (`apt-get install redis-server`; \
                     `cargo xtask ci` does) or set REDIS_SERVER",
                    binary.display()
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && self.command("PING").starts_with("+PONG")
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not answer on port {}", self.port);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
