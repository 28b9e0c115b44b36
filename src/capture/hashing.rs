//! A reader that computes the SHA-256 of everything read through it, so a capture is hashed in
//! the same pass that parses it.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};

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
    pub fn finish(self) -> std::io::Result<(String, u64)> {
        self.finish_unless(&AtomicBool::new(false))
    }

    /// As [`Self::finish`], but gives up (with an error) as soon as `stop` is set.
    pub fn finish_unless(mut self, stop: &AtomicBool) -> std::io::Result<(String, u64)> {
        let mut buf = vec![0u8; 1 << 20];
        loop {
            if stop.load(Ordering::Relaxed) {
                return Err(std::io::Error::other("hashing stopped"));
            }
            match self.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
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
