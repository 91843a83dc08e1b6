//! `kalshi-sim`: the local Kalshi exchange as a program, for bots and
//! clients in any language.
//!
//! ```text
//! kalshi-sim [--port PORT] [--bind ADDR] [--key-id ID --public-key FILE]...
//!            [--generate-key ed25519|rsa] [--rate-limit READ,WRITE] [--empty]
//!            [--no-control-api]
//! ```
//!
//! Binds first, so a busy port fails before anything is written. Keys given
//! with `--key-id`/`--public-key` (RSA or Ed25519, SPKI PEM) are accepted
//! as they are; without any, a key is generated and its private half written
//! into a fresh directory only the current user can read (file mode 0600),
//! and its path printed with the environment variables a client reads.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use kalshi_sim::{Account, ApiKey, PublicKey, SimConfig, Simulator};

const USAGE: &str = "\
usage: kalshi-sim [options]

  --port PORT              listen on PORT (default 8080; 0 picks a free one)
  --bind ADDR              listen on ADDR (default 127.0.0.1); the control API
                           still answers loopback peers only
  --key-id ID --public-key FILE
                           accept API key ID, verified with the RSA or Ed25519
                           public key in FILE (SPKI PEM); repeatable, each key
                           its own account with $10,000
  --generate-key KIND      without --public-key: generate an `ed25519` (default)
                           or `rsa` key and write its private half to a fresh
                           private directory
  --rate-limit READ,WRITE  token buckets per key, tokens per second (a request
                           costs 10); beyond them, 429
  --empty                  start without the seeded markets
  --no-control-api         do not serve the test controls under /_sim/";

/// What the command line asks for.
#[derive(Debug)]
struct Options {
    addr: SocketAddr,
    keys: Vec<(String, PathBuf)>,
    generate: String,
    rate_limit: Option<(u32, u32)>,
    empty: bool,
    control_api: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080),
        keys: Vec::new(),
        generate: "ed25519".to_owned(),
        rate_limit: None,
        empty: false,
        control_api: true,
    };
    let mut pending_id: Option<String> = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--port" => {
                let port = value("--port")?;
                let port = port
                    .parse()
                    .map_err(|_| format!("--port {port:?} is not a port number"))?;
                options.addr.set_port(port);
            }
            "--bind" => {
                let ip = value("--bind")?;
                let ip: IpAddr = ip
                    .parse()
                    .map_err(|_| format!("--bind {ip:?} is not an IP address"))?;
                options.addr.set_ip(ip);
            }
            "--key-id" => {
                if let Some(id) = pending_id.replace(value("--key-id")?) {
                    return Err(format!("--key-id {id} has no --public-key"));
                }
            }
            "--public-key" => {
                let path = PathBuf::from(value("--public-key")?);
                let id = pending_id
                    .take()
                    .ok_or("--public-key must follow a --key-id")?;
                options.keys.push((id, path));
            }
            "--generate-key" => {
                let kind = value("--generate-key")?;
                if !matches!(kind.as_str(), "ed25519" | "rsa") {
                    return Err(format!("--generate-key {kind:?} is not ed25519 or rsa"));
                }
                options.generate = kind;
            }
            "--rate-limit" => {
                let limits = value("--rate-limit")?;
                let parsed = limits
                    .split_once(',')
                    .and_then(|(r, w)| Some((r.parse().ok()?, w.parse().ok()?)))
                    .ok_or_else(|| format!("--rate-limit {limits:?} is not READ,WRITE"))?;
                options.rate_limit = Some(parsed);
            }
            "--empty" => options.empty = true,
            "--no-control-api" => options.control_api = false,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if let Some(id) = pending_id {
        return Err(format!("--key-id {id} has no --public-key"));
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &[String]) -> Result<(), String> {
    let options = parse(args).map_err(|e| format!("{e}\n\n{USAGE}"))?;
    let mut config = SimConfig::new()
        .bind(options.addr)
        .control_api(options.control_api);
    if options.empty {
        config = config.empty();
    }
    if let Some((read, write)) = options.rate_limit {
        config = config.rate_limit(read, write);
    }
    for (key_id, path) in &options.keys {
        let pem = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let public = PublicKey::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))?;
        config = config.account(Account::with_public_key(key_id, key_id, public));
    }
    // Bind before writing anything: a second start on a busy port must not
    // touch a running simulator's files.
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.addr))?;
    let generated = if options.keys.is_empty() {
        let key = if options.generate == "rsa" {
            ApiKey::rsa("sim-key")
        } else {
            ApiKey::ed25519("sim-key")
        };
        config = config.account(Account::new("sim-user", &key));
        Some(key)
    } else {
        None
    };
    let sim = Simulator::serve(listener, &config);
    println!("Kalshi simulator listening on {}", sim.base_url());
    println!();
    if let Some(key) = generated {
        let path = write_private_key(&key)?;
        println!(
            "Generated API key `{}`; its private key is in {}",
            key.key_id(),
            path.display()
        );
        println!();
        println!("export KALSHI_BASE_URL={}", sim.base_url());
        println!("export KALSHI_API_KEY_ID={}", key.key_id());
        println!("export KALSHI_PRIVATE_KEY_PATH={}", path.display());
    } else {
        let ids: Vec<&str> = options.keys.iter().map(|(id, _)| id.as_str()).collect();
        println!("Accepting API keys: {}", ids.join(", "));
        println!();
        println!("export KALSHI_BASE_URL={}", sim.base_url());
    }
    if options.control_api {
        println!();
        println!(
            "Test controls: {}{}health (see the kalshi-sim docs)",
            sim.origin(),
            kalshi_sim::control::PREFIX
        );
    }
    let _ = tokio::signal::ctrl_c().await;
    Ok(())
}

/// Writes the private key into a new directory readable by the current
/// user only, as a file only they can read and write; returns its path.
fn write_private_key(key: &ApiKey) -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!(
        "kalshi-sim-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(&dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(format!("{}.pem", key.key_id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    std::io::Write::write_all(&mut file, key.private_key_pem().as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn keys_pair_ids_with_files_in_order() {
        let options = parse(&args(
            "--port 0 --key-id a --public-key a.pem --key-id b --public-key b.pem --rate-limit 200,100",
        ))
        .unwrap();
        assert_eq!(options.addr.port(), 0);
        assert_eq!(
            options.keys,
            [
                ("a".to_owned(), PathBuf::from("a.pem")),
                ("b".to_owned(), PathBuf::from("b.pem"))
            ]
        );
        assert_eq!(options.rate_limit, Some((200, 100)));
    }

    #[test]
    fn malformed_command_lines_say_what_is_wrong() {
        for (line, needle) in [
            ("--key-id a", "--key-id a has no --public-key"),
            ("--public-key a.pem", "must follow a --key-id"),
            (
                "--key-id a --key-id b --public-key b.pem",
                "--key-id a has no",
            ),
            ("--port x", "not a port"),
            ("--bind nowhere", "not an IP"),
            ("--generate-key dsa", "not ed25519 or rsa"),
            ("--rate-limit 5", "READ,WRITE"),
            ("--frobnicate", "unknown argument"),
        ] {
            let error = parse(&args(line)).unwrap_err();
            assert!(error.contains(needle), "{line}: {error}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_generated_key_is_private_to_the_user() {
        use std::os::unix::fs::PermissionsExt;
        let key = ApiKey::ed25519("perm-test");
        let path = write_private_key(&key).unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            key.private_key_pem()
        );
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
}
