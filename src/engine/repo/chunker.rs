//! Content-defined chunking of a reader with one reused buffer.
//!
//! fastcdc's `StreamCDC` allocates and zeroes a max-size buffer for every stream and shifts it
//! after every chunk; over ~20k small files that zeroing cost more than the chunking itself.
//! This keeps one buffer per reader thread and cuts with fastcdc's own gear hash, so the cut
//! points are exactly `StreamCDC`'s (a test below holds them equal) and repositories written
//! before keep deduplicating.

use std::borrow::Cow;
use std::io::{ErrorKind, Read};

use fastcdc::v2020::{Normalization, cut_gear, get_gear_with_seed, select_masks};

/// How many max-size chunks the buffer holds: the unread tail is moved to the front once per
/// this many bytes.
const BUFFER_CHUNKS: usize = 4;

pub struct Chunker {
    min: usize,
    avg: usize,
    max: usize,
    mask_s: u64,
    mask_l: u64,
    gear: Cow<'static, [u64]>,
    gear_ls: Cow<'static, [u64]>,
    buffer: Vec<u8>,
}

impl Chunker {
    pub fn new(min: usize, avg: usize, max: usize, seed: u64) -> Chunker {
        let (mask_s, mask_l) = select_masks(avg, Normalization::Level1);
        let (gear, gear_ls) = get_gear_with_seed(seed);
        Chunker { min, avg, max, mask_s, mask_l, gear, gear_ls, buffer: Vec::new() }
    }

    /// Passes each chunk of `reader` to `sink` in order and returns the number of bytes read.
    /// `sink` returns false to stop early.
    pub fn chunks<E: From<std::io::Error>>(&mut self, mut reader: impl Read, mut sink: impl FnMut(&[u8]) -> Result<bool, E>) -> Result<u64, E> {
        if self.buffer.is_empty() {
            self.buffer = vec![0; self.max * BUFFER_CHUNKS];
        }
        let (mut start, mut end, mut eof, mut total) = (0, 0, false, 0u64);
        loop {
            // A cut may only be made with a whole max-size window in view, or at the end.
            if !eof && end - start < self.max {
                self.buffer.copy_within(start..end, 0);
                end -= start;
                start = 0;
                while end < self.buffer.len() {
                    match reader.read(&mut self.buffer[end..]) {
                        Ok(0) => {
                            eof = true;
                            break;
                        }
                        Ok(n) => end += n,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            if start == end {
                return Ok(total);
            }
            let (_, n) = cut_gear(
                &self.buffer[start..end],
                self.min,
                self.avg,
                self.max,
                self.mask_s,
                self.mask_l,
                self.mask_s << 1,
                self.mask_l << 1,
                &self.gear,
                &self.gear_ls,
            );
            total += n as u64;
            if !sink(&self.buffer[start..start + n])? {
                return Ok(total);
            }
            start += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    /// A reader that hands out at most `step` bytes per call, as pipes and sockets do.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(self.1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn cuts_where_stream_cdc_cuts() {
        let (min, avg, max, seed) = (4096, 16384, 65536, 0x5eed);
        let mut chunker = Chunker::new(min, avg, max, seed);
        for (len, step) in [(0, 1), (1, 1), (min, 7), (max * 9 + 123, 1000), (max * 3, 1 << 20), (700_001, 65536)] {
            let data = pseudo_random(len, len as u64 + 1);
            let expected: Vec<Vec<u8>> = fastcdc::v2020::StreamCDC::with_level_and_seed(&data[..], min, avg, max, Normalization::Level1, seed)
                .map(|c| c.unwrap().data)
                .collect();
            let mut got = Vec::new();
            let total = chunker
                .chunks::<std::io::Error>(Trickle(&data, step), |c| {
                    got.push(c.to_vec());
                    Ok(true)
                })
                .unwrap();
            assert_eq!(total, len as u64);
            assert_eq!(got, expected, "length {len}, reads of {step}");
        }
    }
}
