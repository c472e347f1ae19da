//! Object stores for tests (feature `test-server`), each over a directory
//! (a bucket or container is a directory below it, an object a file) and
//! bound to 127.0.0.1 in the calling process: an S3 server (s3s-fs,
//! [`start`]), a Google Cloud Storage server ([`start_gcs`]: s3s-fs again,
//! as the XML API that object_store's GCS client speaks), an Azure Blob
//! Storage server ([`start_azure`]), a plain HTTP file server
//! ([`start_files`]), and a TCP proxy that cuts connections part-way, to
//! test what a flaky network does. All of them can serve the same
//! directory at once: a corpus is written once and read through each.
//!
//! The S3 server gives every object's ETag on HEAD and in listings, as S3
//! does (s3s-fs alone gives it on GET only), honours `If-Match`, and lists
//! in pages (s3s-fs alone gives every key at once).
//!
//! One setup, used by this crate's tests and plog-cli's: S3 requests are
//! signed (SigV4) with [`ACCESS_KEY`] / [`SECRET_KEY`] in region
//! [`REGION`]; GCS requests carry the bearer token [`GCS_TOKEN`]; Azure
//! requests are signed (SharedKey) for the account [`AZURE_ACCOUNT`]. The
//! servers run on threads of their own until the process ends.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use md5::Digest as _;
use s3s::dto::{
    GetObjectInput, GetObjectOutput, HeadObjectInput, HeadObjectOutput, ListObjectsV2Input,
    ListObjectsV2Output,
};
use s3s::{S3, S3Request, S3Response, S3Result};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

mod azure;

pub use azure::{AZURE_ACCOUNT, AZURE_KEY, start_azure};

/// The access key the test server takes.
pub const ACCESS_KEY: &str = "plog-test";
/// The secret key the test server takes.
pub const SECRET_KEY: &str = "plog-test";
/// The region requests are signed for.
pub const REGION: &str = "us-east-1";
/// The OAuth bearer token the GCS test server takes
/// (`GOOGLE_BEARER_TOKEN`).
pub const GCS_TOKEN: &str = "plog-test";
/// The most keys one page of a listing of the GCS and Azure test servers
/// holds (GCS's and Azure's own hold 1,000 and 5,000): a listing of more
/// than this many objects is read in pages, as a large bucket is.
pub const TEST_PAGE: usize = 10;
/// The most keys one page of a listing of the S3 test server holds, as
/// S3's.
const S3_PAGE: usize = 1000;

/// Runs `serve` on a listener bound to 127.0.0.1 on a thread of its own
/// (a one-worker runtime), and returns the listener's address.
fn spawn_listener<F, Fut>(serve: F) -> SocketAddr
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the test server");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a port on 127.0.0.1");
            tx.send(listener.local_addr().expect("a bound address"))
                .expect("the caller waits for the address");
            serve(listener).await;
        });
    });
    rx.recv().expect("the test server starts")
}

/// s3s-fs with the ETag of GET (the MD5 of the object, quoted) given by
/// HEAD and listings too, as S3 gives it, and listings in pages of at most
/// `page` keys (with a continuation token: the last key of the page),
/// their prefix a prefix of the keys' text, as S3's is (s3s-fs matches
/// whole path components).
struct WithETags {
    fs: s3s_fs::FileSystem,
    root: PathBuf,
    page: usize,
}

impl WithETags {
    /// The ETag of `bucket`/`key`, as s3s-fs's GET gives it.
    fn e_tag(&self, bucket: &str, key: &str) -> Option<String> {
        let bytes = std::fs::read(self.root.join(bucket).join(key)).ok()?;
        let digest = md5::Md5::digest(&bytes);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        Some(format!("\"{hex}\""))
    }
}

#[async_trait::async_trait]
impl S3 for WithETags {
    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        // If-Match honoured, as S3 and GCS do (s3s-fs passes it over): a
        // range of an object replaced since it was listed is refused.
        if let Some(wanted) = &req.input.if_match
            && self.e_tag(&req.input.bucket, &req.input.key).as_ref() != Some(wanted)
        {
            return Err(s3s::s3_error!(PreconditionFailed));
        }
        self.fs.get_object(req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let mut response = self.fs.head_object(req).await?;
        response.output.e_tag = self.e_tag(&bucket, &key);
        Ok(response)
    }

    async fn list_objects_v2(
        &self,
        mut req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let bucket = req.input.bucket.clone();
        let prefix = req.input.prefix.clone().unwrap_or_default();
        let page = req
            .input
            .max_keys
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(self.page)
            .clamp(1, self.page);
        // The token is the last key of the page before: s3s-fs starts
        // after it.
        if let Some(token) = req.input.continuation_token.take() {
            req.input.start_after = Some(token);
        }
        let mut response = self.fs.list_objects_v2(req).await?;
        let output = &mut response.output;
        let contents = output.contents.get_or_insert_with(Vec::new);
        contents.retain(|object| {
            object
                .key
                .as_deref()
                .is_some_and(|k| k.starts_with(&prefix))
        });
        let truncated = contents.len() > page;
        contents.truncate(page);
        for object in contents.iter_mut() {
            if let Some(key) = &object.key {
                object.e_tag = self.e_tag(&bucket, key);
            }
        }
        output.next_continuation_token = if truncated {
            contents.last().and_then(|object| object.key.clone())
        } else {
            None
        };
        output.is_truncated = Some(truncated);
        output.key_count = i32::try_from(contents.len()).ok();
        output.max_keys = i32::try_from(page).ok();
        Ok(response)
    }
}

/// Every request allowed, signed or not (a plain HTTP server's reads).
struct Public;

#[async_trait::async_trait]
impl s3s::access::S3Access for Public {
    async fn check(&self, _cx: &mut s3s::access::S3AccessContext<'_>) -> S3Result<()> {
        Ok(())
    }
}

/// Starts an S3 server over `root` (each directory below it a bucket) on
/// 127.0.0.1; returns its endpoint (`http://127.0.0.1:PORT`).
pub fn start(root: &Path) -> String {
    serve(root, false)
}

/// Starts the same server as [`start`] that also answers requests without
/// a signature: `http://127.0.0.1:PORT/BUCKET/KEY` is then a plain HTTP
/// URL of the object (GET with ranges, HEAD), as a web server gives it.
pub fn start_public(root: &Path) -> String {
    serve(root, true)
}

/// The S3 service over `root`: listings in pages of `page` keys, requests
/// signed with [`ACCESS_KEY`] and, if `public`, unsigned ones too.
fn s3_service(root: &Path, public: bool, page: usize) -> s3s::service::SharedS3Service {
    let fs = s3s_fs::FileSystem::new(root).expect("an s3s-fs root");
    let mut builder = s3s::service::S3ServiceBuilder::new(WithETags {
        fs,
        root: root.to_path_buf(),
        page,
    });
    builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    if public {
        builder.set_access(Public);
    }
    builder.build().into_shared()
}

fn serve(root: &Path, public: bool) -> String {
    let service = s3_service(root, public, S3_PAGE);
    let addr = spawn_listener(move |listener| async move {
        let http =
            hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let conn = http
                .serve_connection(hyper_util::rt::TokioIo::new(socket), service.clone())
                .into_owned();
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
    });
    format!("http://{addr}")
}

/// Starts a Google Cloud Storage server over `root` (each directory below
/// it a bucket) on 127.0.0.1; returns its base URL
/// (`http://127.0.0.1:PORT`, for `GOOGLE_BASE_URL` or `--endpoint`).
///
/// object_store's GCS client speaks GCS's XML API, which is S3's: a
/// listing is `GET /BUCKET?list-type=2&prefix=..&continuation-token=..`
/// (S3's ListObjectsV2 XML), an object `GET`/`HEAD /BUCKET/KEY` with
/// `Range` and `If-Match`, its ETag and Last-Modified in the headers. So
/// this is the S3 server above, answering requests that carry GCS's OAuth
/// bearer token ([`GCS_TOKEN`], else 401) instead of a SigV4 signature,
/// its listings in pages of [`TEST_PAGE`] keys.
pub fn start_gcs(root: &Path) -> String {
    let service = s3_service(root, true, TEST_PAGE);
    let expected = format!("Bearer {GCS_TOKEN}");
    let addr = spawn_listener(move |listener| async move {
        let http =
            hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let service = service.clone();
            let expected = expected.clone();
            let gcs = hyper::service::service_fn(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    let service = service.clone();
                    let authorized = request
                        .headers()
                        .get(hyper::header::AUTHORIZATION)
                        .is_some_and(|v| v.as_bytes() == expected.as_bytes());
                    async move {
                        if !authorized {
                            let mut response = hyper::Response::new(s3s::Body::from(
                                "<?xml version='1.0' encoding='UTF-8'?><Error>\
                                 <Code>AuthenticationRequired</Code></Error>"
                                    .to_string(),
                            ));
                            *response.status_mut() = hyper::StatusCode::UNAUTHORIZED;
                            return Ok(response);
                        }
                        // The token is checked: s3s reads what is left as
                        // an unsigned request.
                        request.headers_mut().remove(hyper::header::AUTHORIZATION);
                        hyper::service::Service::call(&service, request).await
                    }
                },
            );
            let conn = http
                .serve_connection(hyper_util::rt::TokioIo::new(socket), gcs)
                .into_owned();
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
    });
    format!("http://{addr}")
}

/// A proxy in front of a server that cuts some connections part-way
/// ([`start_dropping_proxy`]).
#[derive(Clone, Debug)]
pub struct DroppingProxy {
    /// The proxy's endpoint (`http://127.0.0.1:PORT`).
    pub endpoint: String,
    /// How many connections it has cut so far.
    pub cuts: Arc<AtomicUsize>,
}

/// Starts a TCP proxy on 127.0.0.1 in front of `upstream`
/// (`http://HOST:PORT`) that, on every `every`-th connection it accepts
/// (the first, then every `every`-th after it; 1: all of them), passes the
/// server's first `after` bytes on and then closes both sides, as a
/// network that drops a connection mid-response does. The client sees a
/// response cut in its headers or body.
pub fn start_dropping_proxy(upstream: &str, every: usize, after: usize) -> DroppingProxy {
    let upstream = upstream
        .strip_prefix("http://")
        .expect("an http:// upstream")
        .to_string();
    let every = every.max(1);
    let cuts = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&cuts);
    let addr = spawn_listener(move |listener| async move {
        let mut accepted = 0usize;
        loop {
            let Ok((client, _)) = listener.accept().await else {
                continue;
            };
            let cut = accepted.is_multiple_of(every);
            accepted += 1;
            let upstream = upstream.clone();
            let counted = Arc::clone(&counted);
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let requests = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
                    let _ = server_write.shutdown().await;
                });
                let limit = if cut { after } else { usize::MAX };
                let mut passed = 0usize;
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let want = buf.len().min(limit - passed);
                    if want == 0 {
                        counted.fetch_add(1, Ordering::SeqCst);
                        break;
                    }
                    match server_read.read(&mut buf[..want]).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if client_write.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                            passed += n;
                        }
                    }
                }
                // Both directions end: the client sees the connection go.
                requests.abort();
                let _ = client_write.shutdown().await;
            });
        }
    });
    DroppingProxy {
        endpoint: format!("http://{addr}"),
        cuts,
    }
}

/// The body of a file server response.
type FileBody = http_body_util::combinators::BoxBody<bytes::Bytes, std::io::Error>;

/// Starts a plain HTTP file server over `root` on 127.0.0.1 (`GET` and
/// `HEAD` of `/PATH`, a single `Range: bytes=A-B`, an ETag made of the
/// file's length and modification time, `If-Match` honoured), bodies
/// streamed in 1 MiB reads; returns its endpoint (`http://127.0.0.1:PORT`).
///
/// Unlike s3s-fs, whose GET reads the whole object for its MD5 every
/// time, a ranged GET here costs its range: what a throughput comparison
/// of ranged and whole-object reads needs.
pub fn start_files(root: &Path) -> String {
    let root = Arc::new(root.to_path_buf());
    let addr = spawn_listener(move |listener| async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let root = Arc::clone(&root);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let root = Arc::clone(&root);
                    async move { Ok::<_, std::convert::Infallible>(serve_file(&root, &request)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

/// A response of `status` with no body.
fn empty(status: u16) -> hyper::Response<FileBody> {
    use http_body_util::BodyExt as _;
    let mut response = hyper::Response::new(
        http_body_util::Empty::new()
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    response
}

/// The response to one request of [`start_files`]'s server.
fn serve_file<B>(root: &Path, request: &hyper::Request<B>) -> hyper::Response<FileBody> {
    let relative = Path::new(request.uri().path().trim_start_matches('/'));
    if relative
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return empty(404);
    }
    serve_path(&root.join(relative), request.method(), request.headers())
}

/// The ETag of the file `meta` describes, unquoted: its length and
/// modification time (what changes when it is rewritten).
fn file_e_tag(meta: &std::fs::Metadata) -> String {
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{:x}-{modified:x}", meta.len())
}

/// The response to a `method` (`GET` or `HEAD`) of the file `path` with
/// `headers` (a single `Range: bytes=A-B`, `If-Match`).
fn serve_path(
    path: &Path,
    method: &hyper::Method,
    headers: &hyper::HeaderMap,
) -> hyper::Response<FileBody> {
    use http_body_util::BodyExt as _;
    use hyper::header;
    let Ok(meta) = std::fs::metadata(path) else {
        return empty(404);
    };
    if !meta.is_file() {
        return empty(404);
    }
    let len = meta.len();
    let e_tag = format!("\"{}\"", file_e_tag(&meta));
    if let Some(wanted) = headers.get(header::IF_MATCH)
        && wanted.as_bytes() != e_tag.as_bytes()
    {
        return empty(412);
    }
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.split_once('-'))
        .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)));
    let (status, start, end) = match range {
        Some((a, b)) if a <= b && a < len => (206, a, b.min(len - 1) + 1),
        Some(_) => return empty(416),
        None => (200, 0, len),
    };
    let head = method == hyper::Method::HEAD;
    let body: FileBody = if head {
        http_body_util::Empty::new()
            .map_err(|never| match never {})
            .boxed()
    } else {
        let chunks = futures::stream::try_unfold(
            (path.to_path_buf(), start),
            move |(path, at)| async move {
                if at >= end {
                    return Ok(None);
                }
                let want = (end - at).min(1 << 20);
                let read_path = path.clone();
                let bytes = tokio::task::spawn_blocking(move || {
                    use std::io::{Read as _, Seek as _};
                    let mut file = std::fs::File::open(read_path)?;
                    file.seek(std::io::SeekFrom::Start(at))?;
                    let mut buf = vec![0u8; usize::try_from(want).unwrap_or(1 << 20)];
                    file.read_exact(&mut buf)?;
                    Ok::<_, std::io::Error>(bytes::Bytes::from(buf))
                })
                .await
                .map_err(std::io::Error::other)??;
                Ok(Some((hyper::body::Frame::data(bytes), (path, at + want))))
            },
        );
        http_body_util::StreamBody::new(chunks).boxed()
    };
    let mut response = hyper::Response::new(body);
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    let headers = response.headers_mut();
    let text = |s: String| {
        header::HeaderValue::from_str(&s).unwrap_or(header::HeaderValue::from_static(""))
    };
    headers.insert(header::CONTENT_LENGTH, text((end - start).to_string()));
    headers.insert(header::ETAG, text(e_tag));
    headers.insert(
        header::LAST_MODIFIED,
        header::HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"),
    );
    headers.insert(
        header::ACCEPT_RANGES,
        header::HeaderValue::from_static("bytes"),
    );
    if status == 206 {
        headers.insert(
            header::CONTENT_RANGE,
            text(format!("bytes {start}-{}/{len}", end - 1)),
        );
    }
    response
}
