//! Data frames (spec §3.3.10, §3.3.7): DataFrame and the StreamChunks a
//! multiplexed DataFrame carries. The reader sits next to the encoder,
//! with the magic and type byte.

use super::{magic, prefix};
use crate::codec::{Put, Reader};
use crate::error::Error;

/// DataFrame flag: last data on the stream.
pub const FLAG_FIN: u8 = 0b01;
/// DataFrame flag: the stream is abandoned.
pub const FLAG_RST: u8 = 0b10;
/// Length of a DataFrame before its payload.
pub const DATA_FRAME_OVERHEAD: usize = 22;
/// The DataFrame `stream_id` sentinel of a multiplexed frame (§3.3.7): its
/// payload is one or more [`StreamChunk`]s. Never a stream's own ID.
pub const MULTIPLEXED: u32 = 0xFFFF_FFFF;
/// Length of a StreamChunk before its payload.
pub const STREAM_CHUNK_OVERHEAD: usize = 8;

/// DataFrame (0x40): stream data, borrowed from the parsed buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataFrame<'a> {
    /// The stream, or [`MULTIPLEXED`].
    pub stream_id: u32,
    /// Byte offset of the payload's first byte in the stream.
    pub seq: u64,
    /// [`FLAG_FIN`] and [`FLAG_RST`]; other bits are reserved.
    pub flags: u8,
    /// The payload: raw stream data, or StreamChunks when multiplexed.
    pub payload: &'a [u8],
}

impl<'a> DataFrame<'a> {
    /// "ZPDF".
    pub const MAGIC: u32 = magic::DATA;
    /// The type byte.
    pub const TYPE: u8 = 0x40;

    #[inline(always)]
    pub(super) fn read(r: &mut Reader<'a>) -> Result<Self, Error> {
        let stream_id = r.u32()?;
        let seq = r.u64()?;
        let flags = r.u8()?;
        if flags & !(FLAG_FIN | FLAG_RST) != 0 {
            return Err(Error::ReservedNonZero);
        }
        let len = r.u32()? as usize;
        let payload = r.take(len)?;
        if seq.checked_add(len as u64).is_none() {
            return Err(Error::InvalidValue("data sequence"));
        }
        if stream_id == MULTIPLEXED {
            // The chunks must tile the payload exactly.
            if payload.is_empty() {
                return Err(Error::Empty("stream chunks"));
            }
            for chunk in StreamChunks::new(payload) {
                chunk?;
            }
        }
        Ok(DataFrame {
            stream_id,
            seq,
            flags,
            payload,
        })
    }

    /// Appends the wire encoding to `out`.
    #[inline]
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.encode_header(out);
        out.put(self.payload);
    }

    /// Appends everything but the payload: a sender that writes the payload
    /// straight into its record buffer uses this to avoid a copy.
    #[inline(always)]
    pub fn encode_header(&self, out: &mut Vec<u8>) {
        prefix(out, Self::MAGIC, Self::TYPE);
        out.put_u32(self.stream_id);
        out.put_u64(self.seq);
        out.put_u8(self.flags);
        out.put_u32(self.payload.len() as u32);
    }

    /// The frame's wire encoding in a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }

    /// Encoded length.
    pub fn encoded_len(&self) -> usize {
        DATA_FRAME_OVERHEAD + self.payload.len()
    }

    /// Whether the payload is StreamChunks (the sentinel stream ID).
    pub fn is_multiplexed(&self) -> bool {
        self.stream_id == MULTIPLEXED
    }

    /// The chunks of a multiplexed frame (checked when it was parsed).
    pub fn chunks(&self) -> StreamChunks<'a> {
        StreamChunks::new(if self.is_multiplexed() {
            self.payload
        } else {
            &[]
        })
    }
}

/// One stream's share of a multiplexed DataFrame (§3.3.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamChunk<'a> {
    /// The stream.
    pub stream_id: u32,
    /// The stream's bytes; the header's `length` is their count.
    pub payload: &'a [u8],
}

impl StreamChunk<'_> {
    /// Appends the wire encoding (`stream_id`, `length`, payload) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.stream_id);
        out.put_u32(self.payload.len() as u32);
        out.put(self.payload);
    }
}

/// The StreamChunks of a multiplexed payload, in order; an error ends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamChunks<'a> {
    rest: &'a [u8],
}

impl<'a> StreamChunks<'a> {
    fn new(payload: &'a [u8]) -> Self {
        StreamChunks { rest: payload }
    }
}

impl<'a> Iterator for StreamChunks<'a> {
    type Item = Result<StreamChunk<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let mut r = Reader::new(self.rest);
        let chunk = (|| {
            let stream_id = r.u32()?;
            if stream_id == MULTIPLEXED {
                return Err(Error::InvalidStreamId(stream_id));
            }
            let len = r.u32()? as usize;
            Ok(StreamChunk {
                stream_id,
                payload: r.take(len)?,
            })
        })();
        match chunk {
            Ok(c) => {
                self.rest = &self.rest[STREAM_CHUNK_OVERHEAD + c.payload.len()..];
                Some(Ok(c))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}
