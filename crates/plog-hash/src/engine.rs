//! The scheduling shared by every backend: inputs cut into chunk jobs,
//! jobs grouped by block count so that the lanes of a kernel call stay full,
//! then the parent nodes of multi-chunk inputs, level by level, through the
//! same lanes. Nothing here allocates: the groups and the chaining values of
//! multi-chunk inputs live in fixed-size arrays on the stack.

use core::mem::MaybeUninit;

use crate::{BLOCK_LEN, CHUNK_END, CHUNK_LEN, CHUNK_START, PARENT, ROOT};

/// The widest kernel's lane count.
pub(crate) const MAX_LANES: usize = 16;

/// Blocks in a chunk.
const CHUNK_BLOCKS: usize = CHUNK_LEN / BLOCK_LEN;

/// Chaining values of multi-chunk inputs held at once (8 KiB on the stack).
/// When the next input's chunks do not fit, the trees held so far are
/// finished first.
const SCRATCH_CHUNKS: usize = 256;

/// Inputs of more chunks than this are hashed by `blake3::hash` (which
/// puts the chunks of one long input side by side itself).
pub(crate) const MAX_TREE_CHUNKS: usize = 32;

/// 64 zero bytes: the padding of a final partial block, and what idle lanes
/// read.
pub(crate) static ZERO_BLOCK: [u8; BLOCK_LEN] = [0; BLOCK_LEN];

/// One compression chain: a chunk (1 to 16 blocks) or a parent node (one
/// block holding two chaining values), keyed with the IV.
///
/// A job is only built by [`run`], which keeps `input` readable for `len`
/// bytes and `out` writable for 32 bytes until the job has run.
#[derive(Clone, Copy)]
pub(crate) struct Job {
    /// The chain's bytes.
    pub(crate) input: *const u8,
    /// Their count, at most [`CHUNK_LEN`].
    pub(crate) len: usize,
    /// The chunk counter (0 for parents).
    pub(crate) counter: u64,
    /// Flags of every block.
    pub(crate) flags: u32,
    /// Flags of the first block.
    pub(crate) start_flags: u32,
    /// Flags of the last block.
    pub(crate) end_flags: u32,
    /// Where the final chaining value goes (32 bytes, little-endian words).
    pub(crate) out: *mut u8,
}

impl Job {
    /// A job that is never run (the unused slots of the arrays).
    const EMPTY: Job = Job {
        input: ZERO_BLOCK.as_ptr(),
        len: 0,
        counter: 0,
        flags: 0,
        start_flags: 0,
        end_flags: 0,
        out: core::ptr::null_mut(),
    };

    /// The number of compressions: one per started block, at least one.
    #[inline(always)]
    pub(crate) fn blocks(&self) -> usize {
        self.len.div_ceil(BLOCK_LEN).max(1)
    }

    /// Where block `b` starts and how many bytes it has (`b < blocks()`).
    #[inline(always)]
    pub(crate) fn block_range(&self, b: usize) -> (usize, usize) {
        let start = b * BLOCK_LEN;
        (start, self.len.saturating_sub(start).min(BLOCK_LEN))
    }

    /// The flags of block `b`.
    #[inline(always)]
    pub(crate) fn flags_of(&self, b: usize) -> u32 {
        let mut flags = self.flags;
        if b == 0 {
            flags |= self.start_flags;
        }
        if b + 1 == self.blocks() {
            flags |= self.end_flags;
        }
        flags
    }
}

/// A kernel: runs every job of the slice, up to its lane count side by side.
///
/// Safety contract (for every kernel): the CPU supports the kernel's
/// instructions; each job's `input` is readable for `len` bytes and its
/// `out` writable for 32 bytes; a job's `out` overlaps another job's input
/// only as [`run`]'s parent levels do: single-block jobs whose outputs go to
/// the same or earlier positions than their inputs. (Kernels run jobs in
/// order, a group of lanes at a time, and read every lane's block of a step
/// before writing any output of that step; the parents of a group all
/// finish in its first step.)
pub(crate) type Kernel = unsafe fn(&[Job]);

/// A backend's kernel and how many jobs it runs side by side.
#[derive(Clone, Copy)]
pub(crate) struct Lanes {
    /// The kernel.
    pub(crate) kernel: Kernel,
    /// Its lane count, `1..=MAX_LANES`.
    pub(crate) width: usize,
    /// A last group of at most this many jobs hands its whole inputs (of
    /// one chunk) to `blake3::hash` instead (0: never).
    pub(crate) solo: usize,
}

/// The `solo` threshold of a kernel of `width` lanes: the most jobs of a
/// last group that go to `blake3::hash` instead (whole one-chunk inputs
/// only). A step of the lanes costs about as many one-input blocks as this
/// plus a fraction (measured in the one-input path of blake3 1.8 against a
/// kernel step: 8 AVX2 lanes about 1.6 blocks, 16 AVX-512 lanes about 2.6,
/// BENCHMARKS.md, sessions 4 and 6); the portable kernel is one input at
/// a time already.
pub(crate) const fn solo(width: usize) -> usize {
    match width {
        0 | 1 => 0,
        2..=8 => 1,
        _ => 2,
    }
}

/// Pending jobs, one queue per block count; a queue runs as soon as it
/// fills the lanes.
///
/// The slots start uninitialised (a call with few inputs must not pay for
/// filling 13 KiB of them): queue `b`'s first `len[b]` slots are written.
struct Queues {
    lanes: Lanes,
    jobs: [[MaybeUninit<Job>; MAX_LANES]; CHUNK_BLOCKS + 1],
    len: [usize; CHUNK_BLOCKS + 1],
}

impl Queues {
    fn new(lanes: Lanes) -> Queues {
        let width = lanes.width.clamp(1, MAX_LANES);
        Queues {
            lanes: Lanes { width, ..lanes },
            jobs: [[const { MaybeUninit::uninit() }; MAX_LANES]; CHUNK_BLOCKS + 1],
            len: [0; CHUNK_BLOCKS + 1],
        }
    }

    /// Queues `job`, running its queue if that fills the lanes.
    ///
    /// # Safety
    ///
    /// `job` must satisfy [`Kernel`]'s contract until the next
    /// [`flush`](Self::flush) returns.
    #[inline]
    unsafe fn push(&mut self, job: Job) {
        let b = job.blocks().min(CHUNK_BLOCKS);
        let width = self.lanes.width;
        let (Some(queue), Some(len)) = (self.jobs.get_mut(b), self.len.get_mut(b)) else {
            return;
        };
        if let Some(slot) = queue.get_mut(*len) {
            slot.write(job);
            *len += 1;
        }
        if *len >= width {
            *len = 0;
            let jobs = &queue[..width.min(MAX_LANES)];
            // SAFETY: the first `width` slots of the queue are written (the
            // invariant of `jobs`), and `MaybeUninit<Job>` has `Job`'s
            // layout; every queued job satisfies the kernel's contract (this
            // function's precondition), and they run in the order queued.
            unsafe {
                let jobs = &*(jobs as *const [MaybeUninit<Job>] as *const [Job]);
                (self.lanes.kernel)(jobs)
            };
        }
    }

    /// Runs every queued job, longest first, in full groups where possible.
    ///
    /// Jobs of one block count run in the order they were queued.
    fn flush(&mut self) {
        let width = self.lanes.width;
        let mut group = [Job::EMPTY; MAX_LANES];
        let mut n = 0;
        for b in (1..=CHUNK_BLOCKS).rev() {
            let len = core::mem::take(&mut self.len[b]);
            for job in &self.jobs[b][..len] {
                // SAFETY: the first `len` slots of queue `b` are written.
                group[n] = unsafe { job.assume_init() };
                n += 1;
                if n == width {
                    // SAFETY: queued jobs satisfy the kernel's contract
                    // (`push`'s precondition), in queue order.
                    unsafe { (self.lanes.kernel)(&group[..n]) };
                    n = 0;
                }
            }
        }
        if n == 0 {
            return;
        }
        if n <= self.lanes.solo {
            // A nearly idle group: a whole input (one chunk) costs less in
            // blake3's one-input path than a step of every lane per block.
            let mut kept = 0;
            for i in 0..n {
                let job = group[i];
                if job.start_flags == CHUNK_START && job.end_flags & ROOT != 0 {
                    // SAFETY: `push`'s precondition: `input` is readable for
                    // `len` bytes (a shared borrow that outlives the call)
                    // and `out` writable for 32 bytes.
                    unsafe {
                        let input = core::slice::from_raw_parts(job.input, job.len);
                        let hash = blake3::hash(input);
                        core::ptr::copy_nonoverlapping(hash.as_bytes().as_ptr(), job.out, 32);
                    }
                } else {
                    group[kept] = job;
                    kept += 1;
                }
            }
            n = kept;
            if n == 0 {
                return;
            }
        }
        // SAFETY: as above.
        unsafe { (self.lanes.kernel)(&group[..n]) };
    }
}

/// A multi-chunk input whose chaining values are in the scratch array.
#[derive(Clone, Copy)]
struct Tree {
    /// Its position in the output.
    out: usize,
    /// Its first chaining value in the scratch array.
    base: usize,
    /// Nodes of the current level.
    nodes: usize,
    /// A node carried up unpaired: (from, to) within the tree.
    carry: Option<(usize, usize)>,
}

/// Multi-chunk inputs in flight; their chaining values are in the scratch
/// array of [`run`] (`used` of its entries).
///
/// The array starts uninitialised: `trees[..count]` are written.
struct Trees {
    trees: [MaybeUninit<Tree>; SCRATCH_CHUNKS / 2],
    count: usize,
    used: usize,
}

/// Writes `blake3::hash(input(i))` to `out[i]` for every `i`.
pub(crate) fn run<'a>(lanes: Lanes, out: &mut [[u8; 32]], input: impl Fn(usize) -> &'a [u8]) {
    let count = out.len();
    let out = out.as_mut_ptr().cast::<u8>();
    let mut queues = Queues::new(lanes);
    // The chaining values of the trees in flight. It starts uninitialised,
    // and a chaining value is only read (by a parent job or a carry) after
    // the job that computes it has run. Its one pointer is derived here,
    // once, and the array is never borrowed again: every job's input and
    // output pointer into it derives from this one, so none invalidates
    // another while jobs are pending (Stacked Borrows).
    let mut scratch_array = [const { MaybeUninit::<[u8; 32]>::uninit() }; SCRATCH_CHUNKS];
    let scratch = (&raw mut scratch_array).cast::<u8>();
    let mut trees = Trees {
        trees: [const { MaybeUninit::uninit() }; SCRATCH_CHUNKS / 2],
        count: 0,
        used: 0,
    };
    for i in 0..count {
        let data = input(i);
        // SAFETY: `i < count`, so the 32 bytes at `out + 32 i` are in `out`.
        let target = unsafe { out.add(32 * i) };
        if data.len() <= CHUNK_LEN {
            // SAFETY: `data` is borrowed for 'a, beyond this call; `target`
            // is in `out`, which is only written through jobs until `run`
            // returns, and `finish` flushes every job before that.
            unsafe {
                queues.push(Job {
                    input: data.as_ptr(),
                    len: data.len(),
                    counter: 0,
                    flags: 0,
                    start_flags: CHUNK_START,
                    end_flags: CHUNK_END | ROOT,
                    out: target,
                })
            };
            continue;
        }
        let chunks = data.len().div_ceil(CHUNK_LEN);
        if chunks > MAX_TREE_CHUNKS {
            let hash = blake3::hash(data);
            // SAFETY: `target` is 32 bytes of `out`, which no job writes for
            // this `i`; the source is a local value.
            unsafe { core::ptr::copy_nonoverlapping(hash.as_bytes().as_ptr(), target, 32) };
            continue;
        }
        if trees.used + chunks > SCRATCH_CHUNKS || trees.count == trees.trees.len() {
            finish(&mut queues, &mut trees, out, scratch);
        }
        let base = trees.used;
        trees.trees[trees.count].write(Tree {
            out: i,
            base,
            nodes: chunks,
            carry: None,
        });
        trees.count += 1;
        trees.used += chunks;
        for (c, chunk) in data.chunks(CHUNK_LEN).enumerate() {
            // SAFETY: `chunk` is borrowed for 'a; `base + c < used <=
            // SCRATCH_CHUNKS`, so the target is inside the scratch array,
            // which is only written through jobs until `finish` has flushed
            // them (it runs before the scratch array is reused or dropped).
            unsafe {
                queues.push(Job {
                    input: chunk.as_ptr(),
                    len: chunk.len(),
                    counter: c as u64,
                    flags: 0,
                    start_flags: CHUNK_START,
                    end_flags: CHUNK_END,
                    out: scratch.add(32 * (base + c)),
                })
            };
        }
    }
    finish(&mut queues, &mut trees, out, scratch);
}

/// Runs every queued job and completes every tree in flight, then empties
/// the scratch array (`scratch`: the pointer [`run`] derived for it).
fn finish(queues: &mut Queues, trees: &mut Trees, out: *mut u8, scratch: *mut u8) {
    loop {
        // The previous level (or the chunks) must be done before their
        // parents are queued.
        queues.flush();
        let mut more = false;
        let count = trees.count.min(trees.trees.len());
        // SAFETY: the first `count` trees are written (the invariant of
        // `Trees`), and `MaybeUninit<Tree>` has `Tree`'s layout.
        let in_flight =
            unsafe { &mut *(&mut trees.trees[..count] as *mut [MaybeUninit<Tree>] as *mut [Tree]) };
        for tree in in_flight.iter_mut() {
            if let Some((from, to)) = tree.carry.take() {
                // SAFETY: both nodes are inside the tree's range of the
                // scratch array (`to < from < nodes of the previous level`),
                // and no job is pending.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        scratch.add(32 * (tree.base + from)),
                        scratch.add(32 * (tree.base + to)),
                        32,
                    )
                };
            }
            let nodes = tree.nodes;
            if nodes < 2 {
                continue;
            }
            more = true;
            for k in 0..nodes / 2 {
                let (target, end_flags) = if nodes == 2 {
                    // SAFETY: `tree.out < out.len()`: it was an index of `out`.
                    (unsafe { out.add(32 * tree.out) }, ROOT)
                } else {
                    // SAFETY: `k < nodes <= the tree's chunk count`.
                    (unsafe { scratch.add(32 * (tree.base + k)) }, 0)
                };
                // Parent k reads nodes 2k and 2k + 1 and writes node k, in
                // place. The jobs of a level run in the order queued, and a
                // kernel reads a group's blocks before writing its outputs,
                // so node k is overwritten only once the parents that read it
                // (k / 2, queued no later) have read it.
                // SAFETY: nodes 2k and 2k + 1 (64 bytes) and node k are
                // inside the tree's range of the scratch array; they stay
                // valid until the flush at the top of the next iteration.
                unsafe {
                    queues.push(Job {
                        input: scratch.add(32 * (tree.base + 2 * k)),
                        len: BLOCK_LEN,
                        counter: 0,
                        flags: PARENT,
                        start_flags: 0,
                        end_flags,
                        out: target,
                    })
                };
            }
            if nodes % 2 == 1 {
                tree.carry = Some((nodes - 1, nodes / 2));
            }
            tree.nodes = nodes.div_ceil(2);
        }
        if !more {
            break;
        }
    }
    trees.count = 0;
    trees.used = 0;
}
