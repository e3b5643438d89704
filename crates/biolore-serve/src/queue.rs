//! Dynamic batching: requests queue up; one inference thread merges them into token-bounded
//! batches, runs the model, and answers each request through its own channel.
//!
//! The async workers never run the model. While a batch is being encoded, new requests wait in
//! the queue; the next batch takes as many of them as fit in the token budget, so under load the
//! model runs on large batches that keep every core busy. With one client a request runs at once;
//! only when the previous batch held several requests does the thread wait a few milliseconds
//! for the clients just answered to send their next ones. A batch is cut into model batches that
//! persistent workers take longest first, so they finish together.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use biolore_encoder::{BatchLimits, Encoder};
use tokio::sync::oneshot;

use crate::error::{ApiError, Result, ServeError};
use crate::metrics::Metrics;

/// Most texts in one model batch (the size measured fastest on a 2-core CPU).
const MAX_TEXTS_PER_MODEL_BATCH: usize = 32;
/// Most padded tokens in one model batch.
const MAX_TOKENS_PER_MODEL_BATCH: usize = 8192;

/// The vectors of one request, row-major `[texts, dim]`.
type Reply = std::result::Result<Vec<f32>, String>;

/// One request's texts on their way to the inference thread.
struct Job {
    tokens: Vec<Vec<u32>>,
    reply: oneshot::Sender<Reply>,
}

/// Admission control: how many requests are inside the server (queued or being encoded).
#[derive(Debug)]
pub struct Admission {
    inside: AtomicUsize,
    max: usize,
}

/// A request's place inside the server; leaving (drop) frees it.
#[derive(Debug)]
pub struct Permit<'a> {
    admission: &'a Admission,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.admission.inside.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Admission {
    /// Admits at most `max` requests at a time.
    pub fn new(max: usize) -> Self {
        Self {
            inside: AtomicUsize::new(0),
            max: max.max(1),
        }
    }

    /// A place for one more request, or 429 when `max` are already inside.
    pub fn admit(&self) -> std::result::Result<Permit<'_>, ApiError> {
        let before = self.inside.fetch_add(1, Ordering::SeqCst);
        if before >= self.max {
            self.inside.fetch_sub(1, Ordering::SeqCst);
            return Err(ApiError::overloaded(self.max));
        }
        Ok(Permit { admission: self })
    }

    /// Requests inside now.
    pub fn inside(&self) -> usize {
        self.inside.load(Ordering::SeqCst)
    }
}

/// The queue in front of the inference thread.
pub struct Batcher {
    sender: Mutex<Option<SyncSender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    metrics: Arc<Metrics>,
    capacity: usize,
    dim: usize,
}

impl std::fmt::Debug for Batcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher").field("dim", &self.dim).finish()
    }
}

impl Batcher {
    /// Starts the inference thread for `encoder`; at most `capacity` requests wait in the queue,
    /// and one batch holds at most `max_batch_tokens` tokens (a larger request runs alone).
    pub fn start(
        encoder: Arc<Encoder>,
        capacity: usize,
        max_batch_tokens: usize,
        metrics: Arc<Metrics>,
    ) -> Result<Self> {
        let (sender, receiver) = sync_channel::<Job>(capacity.max(1));
        let dim = encoder.dim();
        let thread_metrics = metrics.clone();
        let thread = std::thread::Builder::new()
            .name("biolore-inference".into())
            .spawn(move || {
                run_inference(
                    &encoder,
                    &receiver,
                    max_batch_tokens.max(1),
                    &thread_metrics,
                )
            })
            .map_err(ServeError::Thread)?;
        Ok(Self {
            sender: Mutex::new(Some(sender)),
            thread: Mutex::new(Some(thread)),
            metrics,
            capacity: capacity.max(1),
            dim,
        })
    }

    /// Dimension of the vectors.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Encodes one request's tokenized texts; the vectors come back row-major `[texts, dim]`.
    pub async fn encode(&self, tokens: Vec<Vec<u32>>) -> std::result::Result<Vec<f32>, ApiError> {
        let (reply, answer) = oneshot::channel();
        let sender = match self.sender.lock() {
            Ok(guard) => guard.clone(),
            Err(_) => None,
        };
        let Some(sender) = sender else {
            return Err(shutting_down());
        };
        match sender.try_send(Job { tokens, reply }) {
            Ok(()) => self.metrics.queued(),
            Err(TrySendError::Full(_)) => return Err(ApiError::overloaded(self.capacity)),
            Err(TrySendError::Disconnected(_)) => return Err(shutting_down()),
        }
        match answer.await {
            Ok(Ok(vectors)) => Ok(vectors),
            Ok(Err(message)) => Err(ApiError::internal(message)),
            Err(_) => Err(ApiError::internal("the inference thread stopped")),
        }
    }

    /// Whether the inference thread is running.
    pub fn is_running(&self) -> bool {
        self.thread
            .lock()
            .ok()
            .is_some_and(|g| g.as_ref().is_some_and(|t| !t.is_finished()))
    }

    /// Closes the queue and waits for the inference thread to finish what it holds.
    pub fn shutdown(&self) {
        if let Ok(mut guard) = self.sender.lock() {
            guard.take();
        }
        let thread = self.thread.lock().ok().and_then(|mut g| g.take());
        if let Some(thread) = thread {
            if thread.join().is_err() {
                tracing::error!("the inference thread panicked");
            }
        }
    }
}

fn shutting_down() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "server_error",
        "shutting_down",
        "the server is shutting down",
    )
}

fn token_count(job: &Job) -> usize {
    job.tokens.iter().map(Vec::len).sum()
}

/// How long the inference thread waits for more requests when the previous batch held several
/// (concurrent clients send their next request right after an answer); never with one client.
const LINGER: Duration = Duration::from_millis(3);

/// The next queued job: waits until `deadline` when given, else only takes what is there.
fn next_job(queue: &Receiver<Job>, deadline: Option<Instant>) -> Option<Job> {
    match deadline {
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now());
            queue.recv_timeout(left).ok()
        }
        None => queue.try_recv().ok(),
    }
}

/// The inference thread: batch, encode, answer, until the queue is closed and empty.
fn run_inference(encoder: &Encoder, queue: &Receiver<Job>, budget: usize, metrics: &Metrics) {
    let workers = biolore_nn::runtime::workers();
    // Persistent workers: their memory stays warm from batch to batch (fresh threads per batch
    // cost a third more time here), and candle's own parallel loops run inside this pool.
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .thread_name(|i| format!("biolore-encode-{i}"))
        .build()
    {
        Ok(pool) => Some(pool),
        Err(e) => {
            tracing::warn!("no encoding pool ({e}); encoding on fresh threads per batch");
            None
        }
    };
    let mut carry: Option<Job> = None;
    let mut previous_requests = 0usize;
    loop {
        let first = match carry.take() {
            Some(job) => job,
            None => match queue.recv() {
                Ok(job) => job,
                Err(_) => break, // closed and drained: shutdown
            },
        };
        metrics.dequeued();
        let mut tokens = token_count(&first);
        let mut jobs = vec![first];
        let deadline = (previous_requests > 1).then(|| Instant::now() + LINGER);
        loop {
            let wait = deadline.filter(|_| jobs.len() < previous_requests);
            let Some(job) = next_job(queue, wait) else {
                break;
            };
            let n = token_count(&job);
            if tokens + n > budget {
                carry = Some(job);
                break;
            }
            metrics.dequeued();
            tokens += n;
            jobs.push(job);
        }
        previous_requests = jobs.len();
        // Clients that gave up (timeout, closed connection) need no vectors.
        jobs.retain(|job| !job.reply.is_closed());
        if jobs.is_empty() {
            continue;
        }
        run_batch(encoder, pool.as_ref(), jobs, workers, metrics);
    }
}

/// Vectors of `texts`, row-major, split into model batches across the pool's workers.
fn encode_all(
    encoder: &Encoder,
    pool: Option<&rayon::ThreadPool>,
    texts: &[Vec<u32>],
    workers: usize,
) -> biolore_encoder::Result<Vec<f32>> {
    // About two model batches per worker, taken longest first by whichever worker is free, so
    // the workers finish together; none over the measured best size.
    let per_batch = texts
        .len()
        .div_ceil(2 * workers.max(1))
        .clamp(1, MAX_TEXTS_PER_MODEL_BATCH);
    let limits = BatchLimits {
        max_texts: per_batch,
        max_tokens: MAX_TOKENS_PER_MODEL_BATCH,
    };
    Ok(encoder
        .embed_tokens_on(texts, limits, pool, &mut |_| {})?
        .into_flat())
}

/// Encodes the texts of `jobs` as one batch and answers each job with its rows.
fn run_batch(
    encoder: &Encoder,
    pool: Option<&rayon::ThreadPool>,
    mut jobs: Vec<Job>,
    workers: usize,
    metrics: &Metrics,
) {
    let counts: Vec<usize> = jobs.iter().map(|j| j.tokens.len()).collect();
    let mut texts: Vec<Vec<u32>> = Vec::with_capacity(counts.iter().sum());
    for job in &mut jobs {
        texts.append(&mut job.tokens);
    }
    let tokens: usize = texts.iter().map(Vec::len).sum();
    let started = Instant::now();
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        encode_all(encoder, pool, &texts, workers)
    }));
    metrics.observe_batch(texts.len(), tokens, started.elapsed());
    tracing::debug!(
        requests = jobs.len(),
        texts = texts.len(),
        tokens,
        ms = started.elapsed().as_millis() as u64,
        "batch"
    );
    let dim = encoder.dim();
    match result {
        Ok(Ok(flat)) => {
            let mut start = 0;
            for (job, n) in jobs.into_iter().zip(counts) {
                let rows = flat[start * dim..(start + n) * dim].to_vec();
                start += n;
                // A client that left meanwhile no longer listens; nothing to do.
                let _ = job.reply.send(Ok(rows));
            }
        }
        Ok(Err(e)) => {
            tracing::error!("encoding failed: {e}");
            for job in jobs {
                let _ = job.reply.send(Err(format!("encoding failed: {e}")));
            }
        }
        Err(_) => {
            tracing::error!("the model panicked on a batch");
            for job in jobs {
                let _ = job.reply.send(Err("the model failed on this batch".into()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_refuses_beyond_its_limit_and_frees_on_drop() {
        let a = Admission::new(2);
        let p1 = a.admit().unwrap();
        let _p2 = a.admit().unwrap();
        let refused = a.admit().unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.retry_after, Some(1));
        assert_eq!(a.inside(), 2);
        drop(p1);
        assert_eq!(a.inside(), 1);
        assert!(a.admit().is_ok());
    }
}
