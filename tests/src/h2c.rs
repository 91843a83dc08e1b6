//! A loopback HTTP/2 server (cleartext, prior knowledge) written frame by
//! frame, to turn requests away the ways an HTTP/2 server can: it refuses
//! the request's stream (`RST_STREAM` with `REFUSED_STREAM`), before or
//! after the answer's headers, or goes away below it (`GOAWAY` with
//! `NO_ERROR` and a last stream id under the request's). A library server
//! such as h2's can refuse a stream it has accepted, but not send a
//! `GOAWAY` below one, so this one speaks just enough of the protocol to
//! do all three: settings, requests' `HEADERS` and `DATA`, answers of one
//! status and one JSON body.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const GOAWAY: u8 = 7;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const REFUSED_STREAM: u32 = 0x7;
const NO_ERROR: u32 = 0x0;

/// How the server turns a request away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `RST_STREAM` with `REFUSED_STREAM` on the request's stream, before
    /// any answer.
    RefusedStream,
    /// The answer's headers, then `RST_STREAM` with `REFUSED_STREAM`
    /// instead of its body: the request was answered.
    RefusedAfterHeaders,
    /// `GOAWAY` with `NO_ERROR` and last stream id 0: the server will
    /// process none of the connection's streams (the client stops using
    /// it).
    GoAway,
}

/// The server: the first `refusals` requests are turned away, every later
/// one is answered with the status and the body.
pub struct H2Server {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
}

impl H2Server {
    /// Starts the server on a free loopback port. `status` has three digits.
    pub async fn start(refusal: Refusal, refusals: usize, status: u16, body: &'static str) -> Self {
        assert!((100..1000).contains(&status), "a status has three digits");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let conn = Connection {
                    socket,
                    refusal,
                    refusals,
                    status,
                    body,
                    requests: counter.clone(),
                };
                tokio::spawn(conn.serve());
            }
        });
        Self { addr, requests }
    }

    /// The base URL to point a client at.
    pub fn base_url(&self) -> String {
        format!("http://{}/trade-api/v2", self.addr)
    }

    /// Requests received, refused ones included.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

struct Connection {
    socket: TcpStream,
    refusal: Refusal,
    refusals: usize,
    status: u16,
    body: &'static str,
    requests: Arc<AtomicUsize>,
}

impl Connection {
    async fn serve(mut self) {
        let mut preface = [0u8; PREFACE.len()];
        if self.socket.read_exact(&mut preface).await.is_err() || preface != PREFACE {
            return;
        }
        if self.frame(SETTINGS, 0, 0, &[]).await.is_err() {
            return;
        }
        // Streams whose request is complete once their body ends.
        let mut awaiting_body = Vec::new();
        // Read until the client closes: closing first, with the client's
        // bytes unread, could reset the connection before it reads a refusal.
        while let Ok((kind, flags, stream, payload)) = self.read_frame().await {
            let answered = match kind {
                SETTINGS if flags & ACK == 0 => self.frame(SETTINGS, ACK, 0, &[]).await,
                PING if flags & ACK == 0 => self.frame(PING, ACK, 0, &payload).await,
                HEADERS => {
                    let seen = self.requests.fetch_add(1, Ordering::SeqCst);
                    if seen < self.refusals {
                        self.refuse(stream).await
                    } else if flags & END_STREAM != 0 {
                        self.answer(stream).await
                    } else {
                        awaiting_body.push(stream);
                        Ok(())
                    }
                }
                DATA if flags & END_STREAM != 0 && awaiting_body.contains(&stream) => {
                    awaiting_body.retain(|s| *s != stream);
                    self.answer(stream).await
                }
                _ => Ok(()),
            };
            if answered.is_err() {
                return;
            }
        }
    }

    async fn refuse(&mut self, stream: u32) -> std::io::Result<()> {
        match self.refusal {
            Refusal::RefusedStream => {
                self.frame(RST_STREAM, 0, stream, &REFUSED_STREAM.to_be_bytes())
                    .await
            }
            Refusal::RefusedAfterHeaders => {
                let headers = self.headers();
                self.frame(HEADERS, END_HEADERS, stream, &headers).await?;
                self.frame(RST_STREAM, 0, stream, &REFUSED_STREAM.to_be_bytes())
                    .await
            }
            Refusal::GoAway => {
                let mut payload = 0u32.to_be_bytes().to_vec();
                payload.extend_from_slice(&NO_ERROR.to_be_bytes());
                self.frame(GOAWAY, 0, 0, &payload).await
            }
        }
    }

    /// The answer's headers, then its body.
    async fn answer(&mut self, stream: u32) -> std::io::Result<()> {
        let headers = self.headers();
        self.frame(HEADERS, END_HEADERS, stream, &headers).await?;
        self.frame(DATA, END_STREAM, stream, self.body.as_bytes())
            .await
    }

    /// `:status` and `content-type: application/json`, as HPACK literals
    /// naming the static table's entries 8 and 31.
    fn headers(&self) -> Vec<u8> {
        let mut headers = vec![0x08, 3];
        headers.extend_from_slice(self.status.to_string().as_bytes());
        headers.extend_from_slice(&[0x0f, 0x10, 16]);
        headers.extend_from_slice(b"application/json");
        headers
    }

    async fn frame(
        &mut self,
        kind: u8,
        flags: u8,
        stream: u32,
        payload: &[u8],
    ) -> std::io::Result<()> {
        let length = u32::try_from(payload.len()).expect("small frame");
        let mut frame = length.to_be_bytes()[1..].to_vec();
        frame.extend_from_slice(&[kind, flags]);
        frame.extend_from_slice(&stream.to_be_bytes());
        frame.extend_from_slice(payload);
        self.socket.write_all(&frame).await
    }

    async fn read_frame(&mut self) -> std::io::Result<(u8, u8, u32, Vec<u8>)> {
        let mut head = [0u8; 9];
        self.socket.read_exact(&mut head).await?;
        let length = u32::from_be_bytes([0, head[0], head[1], head[2]]);
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; length as usize];
        self.socket.read_exact(&mut payload).await?;
        Ok((head[3], head[4], stream, payload))
    }
}
