//! No secret reaches a log line, a `Debug` or `Display` of a public type, or
//! an error.
//!
//! Every test of this process runs under one `tracing` subscriber at TRACE
//! (`kalshi_tests::traces`; the end-to-end suite installs it through its
//! `client` helper and checks it at the end of each test). This test adds
//! every key form a user can load (PKCS#1, PKCS#8, encrypted PKCS#8 with a
//! passphrase, Ed25519 plain and encrypted, made by the `openssl` command
//! line), uses each against the simulator through successes and every
//! fault, connects a stream, formats every value and error it met, and
//! then checks the README's claim: `kalshi.request` spans record the
//! operation, method and path, never headers or bodies.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use kalshi_client::order::{NewOrder, Price, Quantity};
use kalshi_client::stream::Subscription;
use kalshi_client::{Client, Credentials, Execute, RetryPolicy};
use kalshi_sim::{Account, Fault, PublicKey, SimConfig, Simulator};
use kalshi_tests::traces;

const PASSPHRASE: &str = "soak-test-passphrase-7f3a";

struct Keys {
    /// (name, private PEM, passphrase if encrypted, public SPKI PEM)
    forms: Vec<(&'static str, String, Option<&'static str>, String)>,
}

/// Keys in every form `Credentials` loads, made by `openssl`.
fn keys() -> Keys {
    let dir = std::env::temp_dir().join(format!("kalshi-secrets-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir(&dir).unwrap();
    let pass = format!("pass:{PASSPHRASE}");
    let commands: &[&[&str]] = &[
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "rsa.pem",
        ],
        &["rsa", "-in", "rsa.pem", "-traditional", "-out", "rsa1.pem"],
        &[
            "pkcs8",
            "-topk8",
            "-in",
            "rsa.pem",
            "-v2",
            "aes-256-cbc",
            "-passout",
            &pass,
            "-out",
            "rsa_enc.pem",
        ],
        &["pkey", "-in", "rsa.pem", "-pubout", "-out", "rsa_pub.pem"],
        &["genpkey", "-algorithm", "ed25519", "-out", "ed.pem"],
        &[
            "pkcs8",
            "-topk8",
            "-in",
            "ed.pem",
            "-v2",
            "aes-256-cbc",
            "-passout",
            &pass,
            "-out",
            "ed_enc.pem",
        ],
        &["pkey", "-in", "ed.pem", "-pubout", "-out", "ed_pub.pem"],
    ];
    for args in commands {
        openssl(&dir, args);
    }
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let (rsa_pub, ed_pub) = (read("rsa_pub.pem"), read("ed_pub.pem"));
    let keys = Keys {
        forms: vec![
            ("rsa-pkcs8", read("rsa.pem"), None, rsa_pub.clone()),
            ("rsa-pkcs1", read("rsa1.pem"), None, rsa_pub.clone()),
            (
                "rsa-encrypted",
                read("rsa_enc.pem"),
                Some(PASSPHRASE),
                rsa_pub,
            ),
            ("ed25519", read("ed.pem"), None, ed_pub.clone()),
            (
                "ed25519-encrypted",
                read("ed_enc.pem"),
                Some(PASSPHRASE),
                ed_pub,
            ),
        ],
    };
    let _ = std::fs::remove_dir_all(&dir);
    keys
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command line (the key-loading tests need it too)");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Fails with the place when `text` holds a secret or a signature.
fn assert_no_secret(what: &str, text: &str) {
    if let Some(leak) = traces::find_secret(text) {
        panic!("{what} shows a secret: {leak}");
    }
}

/// Every way a value can be shown.
fn shown(value: &(impl std::fmt::Debug + ?Sized)) -> String {
    format!("{value:?} {value:#?}")
}

/// An error as `Display`, `Debug` and its whole `source()` chain.
fn error_text(error: &kalshi_client::Error) -> String {
    let mut text = format!("{error} {error:?} {error:#?}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(" / {cause} {cause:?}"));
        source = cause.source();
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_traces_debug_output_or_errors() {
    traces::capture();
    traces::forbid(PASSPHRASE);
    let keys = keys();
    let mut config = SimConfig::new();
    for (name, pem, _, public) in &keys.forms {
        traces::forbid(pem);
        let public = PublicKey::from_pem(public).unwrap();
        config = config.account(Account::with_public_key(name, name, public));
    }
    let sim = Simulator::start(config).await.unwrap();

    for (name, pem, passphrase, _) in &keys.forms {
        let credentials = match passphrase {
            Some(passphrase) => Credentials::from_pem_with_passphrase(*name, pem, passphrase),
            None => Credentials::from_pem(*name, pem),
        }
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        // A signature made here: neither it nor the key may show anywhere.
        let signed = credentials
            .sign(1_700_000_000_000, "GET", "/trade-api/v2/portfolio/balance")
            .unwrap();
        traces::forbid(&signed.signature);
        assert_no_secret(name, &shown(&credentials));
        assert_no_secret(name, &shown(&signed));
        exercise(&sim, name, credentials).await;
    }
    key_errors(&keys);

    let seen = traces::seen();
    assert!(
        seen.leaks.is_empty(),
        "secrets in the traces: {:#?}",
        seen.leaks
    );
    assert!(
        seen.headers_or_bodies.is_empty(),
        "kalshi_client logged a header or a body: {:#?}",
        seen.headers_or_bodies
    );
    // The capture saw the traffic, so the checks above checked something.
    assert!(seen.events > 500, "only {} events captured", seen.events);
    assert!(
        seen.request_events > 0 && seen.client_events > 0,
        "{seen:?}"
    );
    assert!(
        seen.samples
            .iter()
            .any(|l| l.contains("operation=") && l.contains("method=") && l.contains("path=")),
        "the request spans record operation, method and path: {:#?}",
        seen.samples
    );
}

/// Successes, refusals and every fault, with one account's key, over REST
/// and a stream; every value and error met is formatted and checked.
async fn exercise(sim: &Simulator, name: &str, credentials: Credentials) {
    let client = Client::builder()
        .base_url(sim.base_url())
        .credentials(credentials)
        .request_timeout(Duration::from_millis(300))
        .retry_policy(
            RetryPolicy::default().with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
        )
        .build()
        .unwrap();
    assert_no_secret(name, &shown(&client));
    let balance = client.portfolio().balance().send().await.unwrap();
    assert_no_secret(name, &shown(&balance));
    let order = NewOrder::buy_yes(
        "KXTEST-26DEC31-YES",
        Quantity::contracts(1).unwrap(),
        "0.30".parse::<Price>().unwrap(),
    );
    assert_no_secret(name, &shown(&order));
    let placed = client.orders().create(&order).send().await.unwrap();
    let mut errors = Vec::new();
    for fault in [
        Fault::Status(500),
        Fault::LoseResponse,
        Fault::MalformedJson,
        Fault::TruncatedBody,
        Fault::NoContent,
        Fault::DropConnection,
        Fault::Delay(Duration::from_millis(600)),
    ] {
        sim.inject(fault, 1);
        let fresh = NewOrder::buy_yes(
            "KXTEST-26DEC31-YES",
            Quantity::contracts(1).unwrap(),
            "0.31".parse::<Price>().unwrap(),
        );
        if let Err(error) = client.orders().create(&fresh).send().await {
            errors.push(error);
        }
    }
    // Refusals: an unknown market, an order id that does not exist.
    let refused = NewOrder::buy_yes(
        "KXNOPE-1",
        Quantity::contracts(1).unwrap(),
        "0.30".parse::<Price>().unwrap(),
    );
    errors.extend(client.orders().create(&refused).send().await.err());
    errors.extend(client.orders().get("no-such-order").send().await.err());
    errors.extend(
        client
            .orders()
            .cancel(placed.order_id.as_str())
            .send()
            .await
            .err(),
    );
    assert!(errors.len() >= 8, "{name}: {} errors met", errors.len());
    for error in &errors {
        assert_no_secret(name, &error_text(error));
    }

    let mut session = client.stream().connect().await.unwrap();
    session
        .subscribe(Subscription::orderbook(["KXTEST-26DEC31-YES"]))
        .await
        .unwrap();
    let _ = tokio::time::timeout(Duration::from_millis(200), session.next_event()).await;
    assert_no_secret(name, &shown(&session.stats()));
    session.close().await;
}

/// A key that cannot be used: the error names the problem, never the key
/// or the passphrase given.
fn key_errors(keys: &Keys) {
    for (name, pem, _, _) in &keys.forms {
        let wrong = Credentials::from_pem_with_passphrase(*name, pem, "not-the-passphrase");
        let missing = Credentials::from_pem(*name, pem);
        for result in [wrong, missing] {
            if let Err(error) = result {
                assert_no_secret(name, &format!("{error} {error:?} {error:#?}"));
                assert!(!error.to_string().contains("not-the-passphrase"), "{error}");
            }
        }
        // Damaged key material: the error shows none of it.
        let damaged = pem.replacen('A', "*", 3);
        if let Err(error) = Credentials::from_pem(*name, &damaged) {
            assert_no_secret(name, &format!("{error} {error:?}"));
        }
    }
}
