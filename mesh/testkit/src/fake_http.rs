//! A real HTTP server on 127.0.0.1:0 standing in for a third party we cannot
//! run (the Kakao API, a webhook receiver, a partner): it records every request
//! and answers what the test says. Plain HTTP, or HTTPS with a [`TestCa`]'s
//! certificate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::tls::TestCa;

/// One request as received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub path: String,
    /// Lowercase names.
    pub headers: HashMap<String, String>,
    pub body: Bytes,
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(&name.to_ascii_lowercase()).map_or("", String::as_str)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// What the server answers: a status, or no answer at all for a while.
#[derive(Clone, Copy, Debug)]
pub enum Reply {
    Status(u16),
    Hang(Duration),
}

type Respond = dyn Fn(&Recorded) -> Reply + Send + Sync;

pub struct FakeServer {
    pub url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    respond: Arc<Mutex<Arc<Respond>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    /// A server answering 200 to everything until told otherwise.
    pub async fn start(path: &str) -> Self {
        Self::listen(path, None).await
    }

    /// The same over HTTPS, with a certificate for `127.0.0.1` that `ca` signed.
    pub async fn start_https(path: &str, ca: &TestCa) -> Self {
        Self::listen(path, Some(ca.acceptor())).await
    }

    async fn listen(path: &str, tls: Option<TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}{path}", listener.local_addr().expect("an address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let respond: Arc<Mutex<Arc<Respond>>> = Arc::new(Mutex::new(Arc::new(|_: &Recorded| Reply::Status(200))));
        let (recorded, answer) = (requests.clone(), respond.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (recorded, answer, tls) = (recorded.clone(), answer.clone(), tls.clone());
                tokio::spawn(async move {
                    match tls {
                        None => serve(stream, recorded, answer).await,
                        // A client that does not trust the certificate hangs up here.
                        Some(tls) => {
                            if let Ok(stream) = tls.accept(stream).await {
                                serve(stream, recorded, answer).await;
                            }
                        }
                    }
                });
            }
        });
        Self { url, requests, respond, task }
    }

    /// From now on, answer with `respond`.
    pub fn respond_with(&self, respond: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) {
        *self.respond.lock().unwrap() = Arc::new(respond);
    }

    pub fn answer(&self, status: u16) {
        self.respond_with(move |_| Reply::Status(status));
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The requests about one booking (any field of the JSON body may name it).
    pub fn requests_about(&self, needle: &str) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| String::from_utf8_lossy(&r.body).contains(needle)).collect()
    }
}

/// Serves one connection (plain or TLS): records each request, answers what
/// `respond` says.
async fn serve<S>(stream: S, recorded: Arc<Mutex<Vec<Recorded>>>, answer: Arc<Mutex<Arc<Respond>>>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request: Request<Incoming>| {
        let (recorded, answer) = (recorded.clone(), answer.clone());
        async move {
            let (parts, body) = request.into_parts();
            let body = body.collect().await?.to_bytes();
            let request = Recorded {
                path: parts.uri.path().to_owned(),
                headers: parts
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
                    .collect(),
                body,
                at: Instant::now(),
            };
            let respond = answer.lock().unwrap().clone();
            let reply = respond(&request);
            recorded.lock().unwrap().push(request);
            let status = match reply {
                Reply::Status(status) => status,
                Reply::Hang(wait) => {
                    tokio::time::sleep(wait).await;
                    200
                }
            };
            let response = Response::builder().status(status).body(Full::new(Bytes::new()));
            Ok::<_, hyper::Error>(response.expect("a valid response"))
        }
    });
    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
}
