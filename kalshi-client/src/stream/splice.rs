//! The upgrade request's signature, written into the socket, never into
//! tungstenite's hands.
//!
//! tungstenite logs the whole handshake request at TRACE (`Request: ...`,
//! target `tungstenite::handshake::client`), headers included, whatever
//! their `sensitive` flag. So the request it builds carries a placeholder
//! of the signature's exact length, and [`Splice`], the stream under the
//! WebSocket, swaps the real signature in as the bytes go out. A log then
//! shows the placeholder; the exchange receives the signature.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Anything a WebSocket can run over: a TCP stream, with or without TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A placeholder as long as `signature`, which no header or signature
/// could be mistaken for.
pub(crate) fn placeholder(signature: &str) -> String {
    const MARK: &str = "kalshi-signature-spliced-at-the-socket";
    let mut text: String = MARK.chars().take(signature.len()).collect();
    while text.len() < signature.len() {
        text.push('*');
    }
    text
}

/// Writes through to `inner`, replacing the first occurrence of a
/// placeholder with the real bytes (of the same length), then passes
/// everything through unchanged.
pub(crate) struct Splice {
    inner: Box<dyn Io>,
    /// Placeholder and replacement, until the replacement has gone out.
    pending: Option<(Vec<u8>, Vec<u8>)>,
    /// Where the placeholder starts in the outgoing bytes, once seen.
    at: Option<u64>,
    /// Outgoing bytes accepted so far.
    written: u64,
    scratch: Vec<u8>,
}

impl Splice {
    pub(crate) fn new(inner: Box<dyn Io>, placeholder: &str, real: &str) -> Self {
        debug_assert_eq!(placeholder.len(), real.len());
        Self {
            inner,
            pending: Some((placeholder.as_bytes().to_vec(), real.as_bytes().to_vec())),
            at: None,
            written: 0,
            scratch: Vec::new(),
        }
    }

    /// `buf` (which starts at offset `self.written` of the outgoing bytes)
    /// with any part of the placeholder it covers replaced.
    fn rewrite<'a>(&'a mut self, buf: &'a [u8]) -> io::Result<&'a [u8]> {
        let Some((placeholder, real)) = &self.pending else {
            return Ok(buf);
        };
        let start = match self.at {
            Some(start) => start,
            None => {
                // tungstenite hands over the whole request first; the
                // placeholder must be in it.
                let found = buf
                    .windows(placeholder.len())
                    .position(|w| w == placeholder.as_slice())
                    .ok_or_else(|| io::Error::other("the signature placeholder was not written"))?;
                let start = self.written + found as u64;
                self.at = Some(start);
                start
            }
        };
        let end = start + real.len() as u64;
        let (from, to) = (self.written, self.written + buf.len() as u64);
        if to <= start || from >= end {
            return Ok(buf);
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(buf);
        let lo = start.max(from);
        let hi = end.min(to);
        let src = &real[(lo - start) as usize..(hi - start) as usize];
        self.scratch[(lo - from) as usize..(hi - from) as usize].copy_from_slice(src);
        Ok(&self.scratch)
    }
}

impl AsyncRead for Splice {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Splice {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.pending.is_none() {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        let bytes = match this.rewrite(buf) {
            Ok(bytes) => bytes.to_vec(),
            Err(error) => return Poll::Ready(Err(error)),
        };
        let poll = Pin::new(&mut this.inner).poll_write(cx, &bytes);
        if let Poll::Ready(Ok(n)) = poll {
            this.written += n as u64;
            let done = this
                .at
                .zip(this.pending.as_ref())
                .is_some_and(|(at, (_, real))| this.written >= at + real.len() as u64);
            if done {
                this.pending = None;
                this.scratch = Vec::new();
            }
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The real bytes reach the peer whatever the write boundaries, and
    /// only the placeholder is replaced.
    #[tokio::test]
    async fn the_placeholder_is_replaced_across_partial_writes() {
        let real = "S".repeat(88);
        let fake = placeholder(&real);
        assert_eq!(fake.len(), real.len());
        assert_ne!(fake, real);
        let request = format!("GET / HTTP/1.1\r\nsig: {fake}\r\nx: {fake}\r\n\r\n");
        for chunk in [1, 7, 64, 4096] {
            let (client, mut server) = tokio::io::duplex(chunk);
            let mut splice = Splice::new(Box::new(client), &fake, &real);
            let bytes = request.clone().into_bytes();
            let writer = tokio::spawn(async move {
                splice.write_all(&bytes).await.unwrap();
                splice.write_all(b"after").await.unwrap();
                splice.shutdown().await.unwrap();
            });
            let mut received = String::new();
            server.read_to_string(&mut received).await.unwrap();
            writer.await.unwrap();
            let expected = format!("GET / HTTP/1.1\r\nsig: {real}\r\nx: {fake}\r\n\r\nafter");
            assert_eq!(received, expected, "chunk {chunk}");
        }
    }

    #[tokio::test]
    async fn a_request_without_the_placeholder_is_refused() {
        let (client, _server) = tokio::io::duplex(1024);
        let mut splice = Splice::new(Box::new(client), &"p".repeat(88), &"s".repeat(88));
        let error = splice
            .write_all(b"GET / HTTP/1.1\r\n\r\n")
            .await
            .unwrap_err();
        assert!(error.to_string().contains("placeholder"), "{error}");
    }
}
