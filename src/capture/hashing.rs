//! SHA-256 of a capture in the same pass that parses it: inline (`HashingReader`), or on a
//! second thread fed with the bytes the parser reads (`TeeReader` + `hash_chunks`), so a file is
//! read from the page cache once.

use std::io::Read;
use std::sync::mpsc::{Receiver, Sender, SyncSender};

/// A reader that hands a copy of everything it reads to a hashing thread, reusing the chunks
/// the thread sends back.
pub struct TeeReader<R> {
    inner: R,
    chunks: SyncSender<Vec<u8>>,
    spent: Receiver<Vec<u8>>,
}

impl<R: Read> TeeReader<R> {
    pub fn new(inner: R, chunks: SyncSender<Vec<u8>>, spent: Receiver<Vec<u8>>) -> Self {
        Self {
            inner,
            chunks,
            spent,
        }
    }
}

impl<R: Read> Read for TeeReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            let mut chunk = self.spent.try_recv().unwrap_or_default();
            chunk.clear();
            chunk.extend_from_slice(&buf[..n]);
            self.chunks
                .send(chunk)
                .map_err(|_| std::io::Error::other("the hashing thread stopped"))?;
        }
        Ok(n)
    }
}

/// Hash the chunks as they come, until the sender is dropped: the hex digest and the length.
pub fn hash_chunks(
    chunks: Receiver<Vec<u8>>,
    spent: Sender<Vec<u8>>,
) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    for chunk in chunks {
        hasher.update(&chunk);
        bytes += chunk.len() as u64;
        let _ = spent.send(chunk);
    }
    Ok((hex::encode(hasher.finalize()), bytes))
}

use sha2::{Digest, Sha256};

pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Read the rest of the input (parsing may have stopped early) and return the hex digest of
    /// the whole input with its length in bytes.
    pub fn finish(mut self) -> std::io::Result<(String, u64)> {
        std::io::copy(&mut self, &mut std::io::sink())?;
        Ok((hex::encode(self.hasher.finalize()), self.bytes))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tee_hashes_what_was_read() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        let (spent_tx, spent_rx) = std::sync::mpsc::channel();
        let hasher = std::thread::spawn(move || hash_chunks(rx, spent_tx));
        let mut tee = TeeReader::new(&data[..], tx, spent_rx);
        let mut first = vec![0u8; 1000];
        tee.read_exact(&mut first).unwrap();
        std::io::copy(&mut tee, &mut std::io::sink()).unwrap();
        drop(tee);
        let (hex, n) = hasher.join().unwrap().unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(hex, hex::encode(Sha256::digest(&data)));
    }

    #[test]
    fn digest_covers_unread_rest() {
        let data = b"abc".repeat(1000);
        let mut r = HashingReader::new(&data[..]);
        let mut first = [0u8; 10];
        r.read_exact(&mut first).unwrap();
        let (hex, n) = r.finish().unwrap();
        assert_eq!(n, 3000);
        assert_eq!(hex, hex::encode(Sha256::digest(&data)));
    }
}
