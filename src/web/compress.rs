//! Compression of responses, in the encoding the browser prefers (`Accept-Encoding`).
//!
//! Every response of the app has its whole body in memory or a known, small size (pages are
//! rendered to a string, static files are read from disk), so it is compressed in one call, at
//! the fastest level, with a compression context kept per worker thread:
//!
//! - zstd for Chrome, Edge and Firefox: as small as gzip's default level for a sixth of its CPU;
//! - brotli for Safari;
//! - gzip for a client that offers only that.
//!
//! `tower-http`'s compression layer, used before, streamed every body through a new zstd
//! context with a window for any length (half a megabyte, zeroed): on a small page that was a
//! tenth of the app's CPU, more than compressing it (docs/performance.md, 7 Dec 2026). The
//! choice of encoding follows the same rules as that layer: the highest q-value wins, zstd
//! before brotli before gzip when equal, `q=0` refuses.

use std::{cell::RefCell, io::Write};

use axum::{
    body::{Body, HttpBody},
    extract::Request,
    http::{header, HeaderMap, HeaderValue},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::AppError;

/// An encoding the app can send, from least to most preferred when the client accepts several
/// with the same q-value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Encoding {
    Identity,
    Gzip,
    Brotli,
    Zstd,
}

impl Encoding {
    fn parse(token: &str) -> Option<Encoding> {
        let eq = |name: &str| token.eq_ignore_ascii_case(name);
        if eq("gzip") || eq("x-gzip") {
            Some(Encoding::Gzip)
        } else if eq("br") {
            Some(Encoding::Brotli)
        } else if eq("zstd") {
            Some(Encoding::Zstd)
        } else if eq("identity") {
            Some(Encoding::Identity)
        } else {
            None
        }
    }

    fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Brotli => "br",
            Encoding::Zstd => "zstd",
        })
    }
}

/// A q-value (RFC 9110, 12.4.2) in thousandths; `None` for one that is not well formed.
fn qvalue(param: &str) -> Option<u16> {
    let value = param
        .strip_prefix("q=")
        .or_else(|| param.strip_prefix("Q="))?;
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole = match whole {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    let thousandths = fraction
        .bytes()
        .zip([100, 10, 1])
        .map(|(digit, factor)| u16::from(digit - b'0') * factor)
        .sum::<u16>();
    Some(whole + thousandths).filter(|q| *q <= 1000)
}

/// The encoding to answer a request with these headers in. Unknown encodings and malformed
/// q-values are ignored.
pub fn negotiate(headers: &HeaderMap) -> Encoding {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|item| {
            let mut parts = item.splitn(2, ';');
            let encoding = Encoding::parse(parts.next()?.trim())?;
            let q = match parts.next() {
                Some(param) => qvalue(param.trim())?,
                None => 1000,
            };
            Some((q, encoding))
        })
        .filter(|(q, _)| *q > 0)
        .max()
        .map_or(Encoding::Identity, |(_, encoding)| encoding)
}

/// Bodies smaller than this are sent as they are: the encoding's frame would outweigh the gain.
const MIN_SIZE: u64 = 32;
/// Bodies larger than this are sent as they are rather than held in memory twice. The app's
/// largest, an audit export of up to 50,000 entries, can reach about 20 MB.
const MAX_SIZE: u64 = 64 * 1024 * 1024;
/// Bodies larger than this are compressed on a blocking thread, not on the worker that serves
/// other requests meanwhile (even zstd's fastest level takes milliseconds a megabyte).
const BLOCKING_SIZE: usize = 1024 * 1024;

/// Whether the response is one to compress: not already encoded or a range, text rather than
/// an image (SVG is text), and of a known size worth it.
fn compressible(res: &Response) -> bool {
    let headers = res.headers();
    if headers.contains_key(header::CONTENT_ENCODING) || headers.contains_key(header::CONTENT_RANGE)
    {
        return false;
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if (content_type.starts_with("image/") && !content_type.starts_with("image/svg+xml"))
        || content_type.starts_with("text/event-stream")
        || content_type.starts_with("application/grpc")
    {
        return false;
    }
    let size = res.body().size_hint().exact().or_else(|| {
        headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    });
    size.is_some_and(|n| (MIN_SIZE..=MAX_SIZE).contains(&n))
}

thread_local! {
    /// One zstd context per worker thread, reused for every response it compresses.
    static ZSTD: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
}

/// `data` in `encoding`, at the encoding's fastest level.
pub fn encode(encoding: Encoding, data: &[u8]) -> std::io::Result<Vec<u8>> {
    match encoding {
        Encoding::Identity => Ok(data.to_vec()),
        Encoding::Zstd => ZSTD.with(|cell| {
            let mut slot = cell.borrow_mut();
            let compressor = match slot.as_mut() {
                Some(c) => c,
                None => slot.insert(zstd::bulk::Compressor::new(1)?),
            };
            compressor.compress(data)
        }),
        Encoding::Brotli => {
            let params = brotli::enc::BrotliEncoderParams {
                quality: 1,
                lgwin: 20,
                size_hint: data.len(),
                ..Default::default()
            };
            let mut out = Vec::with_capacity(data.len() / 4 + 64);
            brotli::BrotliCompress(&mut &data[..], &mut out, &params)?;
            Ok(out)
        }
        Encoding::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(
                Vec::with_capacity(data.len() / 3 + 64),
                flate2::Compression::fast(),
            );
            encoder.write_all(data)?;
            encoder.finish()
        }
    }
}

/// The middleware: compresses what `compressible` allows in the encoding `negotiate` picks,
/// and tells caches that the answer depends on `Accept-Encoding`.
pub async fn layer(req: Request, next: Next) -> Response {
    let encoding = negotiate(req.headers());
    // A HEAD answer has no body to compress; its length is that of the body a GET would get.
    let head = req.method() == axum::http::Method::HEAD;
    let res = next.run(req).await;
    if head || !compressible(&res) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let varies = parts.headers.get_all(header::VARY).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.to_ascii_lowercase().contains("accept-encoding"))
    });
    if !varies {
        parts
            .headers
            .append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if encoding == Encoding::Identity {
        return Response::from_parts(parts, body);
    }
    let bytes = match axum::body::to_bytes(body, MAX_SIZE as usize).await {
        Ok(bytes) => bytes,
        // the app's error page, logged like any failed request
        Err(error) => {
            return AppError::Internal(anyhow::anyhow!("reading a body to compress: {error}"))
                .into_response()
        }
    };
    let encoded = if bytes.len() > BLOCKING_SIZE {
        let body = bytes.clone();
        tokio::task::spawn_blocking(move || encode(encoding, &body))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    } else {
        encode(encoding, &bytes)
    };
    let encoded = match encoded {
        Ok(encoded) => encoded,
        Err(error) => {
            tracing::error!(%error, "compressing a response");
            return Response::from_parts(parts, Body::from(bytes));
        }
    };
    parts.headers.remove(header::ACCEPT_RANGES);
    parts
        .headers
        .insert(header::CONTENT_ENCODING, encoding.header_value());
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(encoded.len()));
    Response::from_parts(parts, Body::from(encoded))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(values: &[&str]) -> Encoding {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        }
        negotiate(&headers)
    }

    #[test]
    fn the_highest_q_value_wins_and_zstd_breaks_ties() {
        assert_eq!(offer(&[]), Encoding::Identity);
        assert_eq!(offer(&["gzip, deflate, br, zstd"]), Encoding::Zstd);
        assert_eq!(offer(&["gzip, deflate, br"]), Encoding::Brotli);
        assert_eq!(offer(&["deflate, gzip"]), Encoding::Gzip);
        assert_eq!(offer(&["x-gzip"]), Encoding::Gzip);
        assert_eq!(offer(&["GZIP, BR"]), Encoding::Brotli);
        assert_eq!(offer(&["zstd;q=0, gzip;q=0.5, br;q=0.1"]), Encoding::Gzip);
        assert_eq!(offer(&["zstd;q=0.9, gzip"]), Encoding::Gzip);
        assert_eq!(offer(&["br;q=0.999", "zstd;q=0.998"]), Encoding::Brotli);
        assert_eq!(offer(&["identity, gzip;q=0.5"]), Encoding::Identity);
        assert_eq!(offer(&["identity"]), Encoding::Identity);
        assert_eq!(offer(&["deflate, compress, *"]), Encoding::Identity);
        assert_eq!(offer(&["zstd;q=0"]), Encoding::Identity);
        assert_eq!(offer(&["gzip;Q=1.000"]), Encoding::Gzip);
    }

    #[test]
    fn malformed_q_values_drop_their_encoding() {
        for bad in [
            "zstd;q=2",
            "zstd;q=1.5",
            "zstd;q=1.0001",
            "zstd;q=0.1234",
            "zstd;q=.5",
            "zstd;q=x",
            "zstd;level=1",
            "zstd;q=0.-1",
        ] {
            assert_eq!(
                offer(&[&format!("{bad}, gzip;q=0.1")]),
                Encoding::Gzip,
                "{bad}"
            );
        }
        assert_eq!(qvalue("q=1"), Some(1000));
        assert_eq!(qvalue("q=1.000"), Some(1000));
        assert_eq!(qvalue("q=0.5"), Some(500));
        assert_eq!(qvalue("q=0.05"), Some(50));
        assert_eq!(qvalue("q=0.005"), Some(5));
        assert_eq!(qvalue("q=0."), Some(0));
    }

    #[tokio::test]
    async fn a_large_body_is_compressed_off_the_worker_and_decodes() {
        use tower::ServiceExt;
        let big = "<tr><td>2026-12-07</td><td>Læst</td></tr>\n".repeat(60_000);
        assert!(big.len() > BLOCKING_SIZE);
        let page = big.clone();
        let app = axum::Router::new()
            .route(
                "/",
                axum::routing::get(move || async move { axum::response::Html(page) }),
            )
            .layer(axum::middleware::from_fn(layer));
        let req = Request::get("/")
            .header(header::ACCEPT_ENCODING, "gzip, deflate, br, zstd")
            .body(Body::empty())
            .unwrap();
        let res = app.oneshot(req).await.unwrap();
        assert_eq!(res.headers()[header::CONTENT_ENCODING], "zstd");
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        assert!(body.len() * 20 < big.len());
        assert_eq!(zstd::decode_all(&body[..]).unwrap(), big.as_bytes());
    }
}
