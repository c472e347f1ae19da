//! BLAKE3's constants: block and chunk lengths, domain flags, the IV and
//! the message schedule.

/// Bytes in a block.
pub(crate) const BLOCK_LEN: usize = 64;

/// Bytes in a chunk.
pub(crate) const CHUNK_LEN: usize = 1024;

pub(crate) const CHUNK_START: u32 = 1;

pub(crate) const CHUNK_END: u32 = 2;

pub(crate) const PARENT: u32 = 4;

pub(crate) const ROOT: u32 = 8;

/// BLAKE3's IV (SHA-256's).
pub(crate) const IV: [u32; 8] = [
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
];

/// BLAKE3's message word permutation, applied between rounds.
const MSG_PERMUTATION: [usize; 16] = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];

/// For each of the 7 rounds, which message word goes in each position.
pub(crate) const MSG_SCHEDULE: [[usize; 16]; 7] = {
    let mut schedule = [[0; 16]; 7];
    let mut i = 0;
    while i < 16 {
        schedule[0][i] = i;
        i += 1;
    }
    let mut r = 1;
    while r < 7 {
        let mut i = 0;
        while i < 16 {
            schedule[r][i] = schedule[r - 1][MSG_PERMUTATION[i]];
            i += 1;
        }
        r += 1;
    }
    schedule
};
