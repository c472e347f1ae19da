//! An Azure Blob Storage server for tests ([`start_azure`]): the part of
//! the Blob service's REST API that object_store's Azure client reads
//! with, over a directory, as Azurite serves it (the account in the path:
//! `/ACCOUNT/CONTAINER/BLOB`).
//!
//! No crate on crates.io serves the Blob API in a test's process (Azurite
//! is a Node program; Rust's Azure crates are clients), so this one is
//! written here, to what object_store 0.14's `azure` module sends:
//!
//! - `GET /ACCOUNT/CONTAINER?restype=container&comp=list&prefix=P&marker=M
//!   &maxresults=N`: List Blobs, its `EnumerationResults` XML, in pages of
//!   at most [`TEST_PAGE`](super::TEST_PAGE) blobs with a `NextMarker`;
//! - `GET` / `HEAD /ACCOUNT/CONTAINER/BLOB`: Get Blob and Get Blob
//!   Properties, a single range (`x-ms-range`, else `Range`: `bytes=A-B`),
//!   `If-Match` (quoted or not, as Azure takes it), the ETag quoted in the
//!   headers and unquoted in listings, as Azure gives it;
//! - every request signed with SharedKey for [`AZURE_ACCOUNT`] with
//!   [`AZURE_KEY`] (the signature is recomputed and compared: a request
//!   signed with another key is refused, 403), as Azure checks it.
//!
//! Anything else is refused (400, 405), so a client that came to need more
//! fails loudly rather than read a wrong answer.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use http_body_util::BodyExt as _;
use hyper::header;

use super::{FileBody, TEST_PAGE, empty, file_e_tag, serve_path, spawn_listener};

/// The storage account the test server serves (Azurite's well-known
/// one).
pub const AZURE_ACCOUNT: &str = "devstoreaccount1";

/// The account key requests are signed with (`AZURE_STORAGE_ACCOUNT_KEY`;
/// Azurite's well-known key, which object_store uses when
/// `AZURE_STORAGE_USE_EMULATOR` is set and no key is).
pub const AZURE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The Last-Modified of every blob (the file server's, which sets no real
/// one either).
const LAST_MODIFIED: &str = "Thu, 01 Jan 1970 00:00:00 GMT";

/// Starts an Azure Blob Storage server over `root` (each directory below
/// it a container of the account [`AZURE_ACCOUNT`]) on 127.0.0.1; returns
/// its address, `http://127.0.0.1:PORT`: the emulator's URL
/// (`AZURITE_BLOB_STORAGE_URL`, with `AZURE_STORAGE_USE_EMULATOR`), whose
/// `/devstoreaccount1` is the account's blob service URL
/// (`AZURE_STORAGE_ENDPOINT`, or `--endpoint`).
pub fn start_azure(root: &Path) -> String {
    let root = Arc::new(root.to_path_buf());
    let addr = spawn_listener(move |listener| async move {
        let address = listener
            .local_addr()
            .map_or_else(|_| String::new(), |a| a.to_string());
        let address = Arc::new(address);
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let root = Arc::clone(&root);
            let address = Arc::clone(&address);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let root = Arc::clone(&root);
                    let address = Arc::clone(&address);
                    async move {
                        Ok::<_, std::convert::Infallible>(serve_blob(&root, &address, &request))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

/// An Azure error response: `status`, its `x-ms-error-code` and XML body
/// (none for HEAD).
fn error(status: u16, code: &str, head: bool) -> hyper::Response<FileBody> {
    let mut response = if head {
        empty(status)
    } else {
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code>\
             <Message>{code}</Message></Error>"
        );
        let mut response = hyper::Response::new(
            http_body_util::Full::new(bytes::Bytes::from(xml))
                .map_err(|never| match never {})
                .boxed(),
        );
        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
        response
    };
    if let Ok(code) = header::HeaderValue::from_str(code) {
        response.headers_mut().insert("x-ms-error-code", code);
    }
    response
}

/// The response to one request.
fn serve_blob<B>(
    root: &Path,
    address: &str,
    request: &hyper::Request<B>,
) -> hyper::Response<FileBody> {
    let head = request.method() == hyper::Method::HEAD;
    if request.method() != hyper::Method::GET && !head {
        return error(405, "UnsupportedHttpVerb", head);
    }
    if !signed(request) {
        return error(403, "AuthenticationFailed", head);
    }
    // The path's segments, decoded: the account, the container, the
    // blob's name in parts.
    let mut segments = Vec::new();
    for raw in request.uri().path().split('/').skip(1) {
        let Ok(segment) = percent_encoding::percent_decode_str(raw).decode_utf8() else {
            return error(400, "InvalidUri", head);
        };
        if segment.is_empty() || segment == "." || segment == ".." || segment.contains(['/', '\\'])
        {
            return error(400, "InvalidUri", head);
        }
        segments.push(segment.into_owned());
    }
    let [account, container, blob @ ..] = segments.as_slice() else {
        return error(400, "InvalidUri", head);
    };
    if account != AZURE_ACCOUNT {
        return error(400, "InvalidUri", head);
    }
    let dir = root.join(container);
    if !dir.is_dir() {
        return error(404, "ContainerNotFound", head);
    }
    let query: Vec<(String, String)> =
        form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if blob.is_empty() {
        if head || param("restype") != Some("container") || param("comp") != Some("list") {
            return error(400, "UnsupportedQueryParameter", head);
        }
        if param("delimiter").is_some() {
            // object_store lists recursively; a listing by delimiter is
            // not served rather than served wrong.
            return error(400, "UnsupportedQueryParameter", head);
        }
        return list(&dir, address, container, &param);
    }
    if !query.is_empty() {
        // versionid, snapshot, comp=...: not served.
        return error(400, "UnsupportedQueryParameter", head);
    }
    let path: PathBuf = blob.iter().fold(dir, |path, part| path.join(part));
    if !path.is_file() {
        return error(404, "BlobNotFound", head);
    }
    // Azure's range header first, then the standard one; an ETag in
    // If-Match quoted or not (listings give it unquoted, headers quoted).
    let mut headers = request.headers().clone();
    if let Some(range) = headers.remove("x-ms-range") {
        headers.insert(header::RANGE, range);
    }
    if let Some(wanted) = headers.get(header::IF_MATCH)
        && !wanted.as_bytes().starts_with(b"\"")
        && let Ok(quoted) =
            header::HeaderValue::from_str(&format!("\"{}\"", wanted.to_str().unwrap_or("")))
    {
        headers.insert(header::IF_MATCH, quoted);
    }
    let mut response = serve_path(&path, request.method(), &headers);
    let code = match response.status().as_u16() {
        412 => Some("ConditionNotMet"),
        416 => Some("InvalidRange"),
        404 => Some("BlobNotFound"),
        _ => None,
    };
    if let Some(code) = code {
        return error(response.status().as_u16(), code, head);
    }
    let out = response.headers_mut();
    out.insert(
        "x-ms-blob-type",
        header::HeaderValue::from_static("BlockBlob"),
    );
    if let Some(version) = request.headers().get("x-ms-version") {
        out.insert("x-ms-version", version.clone());
    }
    response
}

/// One blob of a listing: its name, length and (unquoted) ETag.
struct Listed {
    name: String,
    len: u64,
    e_tag: String,
}

/// Every file below `dir`, at any depth, named by its path below `dir`
/// with `/` between the parts (`prefix` the parts above it).
fn walk(dir: &Path, prefix: &str, out: &mut Vec<Listed>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let meta = entry.metadata()?;
        let name = format!("{prefix}{name}");
        if meta.is_dir() {
            walk(&entry.path(), &format!("{name}/"), out)?;
        } else if meta.is_file() {
            out.push(Listed {
                name,
                len: meta.len(),
                e_tag: file_e_tag(&meta),
            });
        }
    }
    Ok(())
}

/// List Blobs of the container `dir`: the blobs whose name starts with
/// `prefix`, after `marker`, at most `maxresults` (and [`TEST_PAGE`]) of
/// them, sorted by name; `NextMarker` names the last when more follow.
fn list<'a>(
    dir: &Path,
    address: &str,
    container: &str,
    param: &dyn Fn(&str) -> Option<&'a str>,
) -> hyper::Response<FileBody> {
    let prefix = param("prefix").unwrap_or("");
    let marker = param("marker").unwrap_or("");
    let page = param("maxresults")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(TEST_PAGE)
        .clamp(1, TEST_PAGE);
    let mut blobs = Vec::new();
    if walk(dir, "", &mut blobs).is_err() {
        return error(500, "InternalError", false);
    }
    blobs.retain(|b| b.name.starts_with(prefix) && (marker.is_empty() || b.name.as_str() > marker));
    blobs.sort_by(|a, b| a.name.cmp(&b.name));
    let more = blobs.len() > page;
    blobs.truncate(page);
    let text = |s: &str| quick_xml::escape::escape(s).into_owned();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
         <EnumerationResults ServiceEndpoint=\"http://{address}/{AZURE_ACCOUNT}/\" \
         ContainerName=\"{}\"><Prefix>{}</Prefix><Marker>{}</Marker>\
         <MaxResults>{page}</MaxResults><Blobs>",
        text(container),
        text(prefix),
        text(marker),
    );
    for blob in &blobs {
        xml.push_str(&format!(
            "<Blob><Name>{}</Name><Properties><Last-Modified>{LAST_MODIFIED}</Last-Modified>\
             <Etag>{}</Etag><Content-Length>{}</Content-Length>\
             <Content-Type>application/octet-stream</Content-Type>\
             <BlobType>BlockBlob</BlobType></Properties></Blob>",
            text(&blob.name),
            text(&blob.e_tag),
            blob.len,
        ));
    }
    xml.push_str("</Blobs><NextMarker>");
    if more && let Some(last) = blobs.last() {
        xml.push_str(&text(&last.name));
    }
    xml.push_str("</NextMarker></EnumerationResults>");
    let mut response = hyper::Response::new(
        http_body_util::Full::new(bytes::Bytes::from(xml))
            .map_err(|never| match never {})
            .boxed(),
    );
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/xml"),
    );
    response
}

/// Whether `request` carries a SharedKey signature of [`AZURE_ACCOUNT`]
/// made with [`AZURE_KEY`] over what Azure signs: the method, the standard
/// headers in their order, the `x-ms-*` headers sorted, and the resource
/// (`/ACCOUNT` + the path as sent, then each query parameter, its name in
/// lower case, its values sorted and joined by commas).
/// <https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key>
fn signed<B>(request: &hyper::Request<B>) -> bool {
    let headers = request.headers();
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("SharedKey "))
        .and_then(|v| v.strip_prefix(AZURE_ACCOUNT))
        .and_then(|v| v.strip_prefix(':'))
    else {
        return false;
    };
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(given) else {
        return false;
    };
    let value = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let content_length = Some(value(header::CONTENT_LENGTH)).filter(|v| v != "0");
    let mut text = format!(
        "{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n",
        request.method(),
        value(header::CONTENT_ENCODING),
        value(header::CONTENT_LANGUAGE),
        content_length.unwrap_or_default(),
        value(header::HeaderName::from_static("content-md5")),
        value(header::CONTENT_TYPE),
        value(header::DATE),
        value(header::IF_MODIFIED_SINCE),
        value(header::IF_MATCH),
        value(header::IF_NONE_MATCH),
        value(header::IF_UNMODIFIED_SINCE),
        value(header::RANGE),
    );
    let mut ms: Vec<(&str, &str)> = headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("x-ms-"))
        .map(|(name, v)| (name.as_str(), v.to_str().unwrap_or("")))
        .collect();
    ms.sort_unstable();
    for (name, v) in ms {
        text.push_str(&format!("{name}:{v}\n"));
    }
    text.push_str(&format!("/{AZURE_ACCOUNT}{}", request.uri().path()));
    let mut params: Vec<(String, String)> =
        form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    params.sort();
    let mut names: Vec<String> = params.iter().map(|(k, _)| k.clone()).collect();
    names.dedup();
    for name in names {
        let values: Vec<&str> = params
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .collect();
        text.push_str(&format!("\n{}:{}", name.to_lowercase(), values.join(",")));
    }
    let Ok(key) = base64::engine::general_purpose::STANDARD.decode(AZURE_KEY) else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    ring::hmac::verify(&key, text.as_bytes(), &given).is_ok()
}
