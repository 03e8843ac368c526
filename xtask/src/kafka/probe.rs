//! Readiness: a broker is ready when it answers an ApiVersions request, not merely when its port
//! accepts connections (a KRaft broker binds its listeners before it has caught up with the
//! metadata log and been unfenced).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

/// ApiVersions' API key.
const API_VERSIONS_KEY: i16 = 18;

/// Sends an ApiVersions v0 request to `addr` and checks the response: right correlation id,
/// error code 0. Returns how many APIs the broker listed.
///
/// Hand-encoded because xtask must not depend on the crates it helps test, and v0 is the one
/// version every broker answers (a newer one may get an UNSUPPORTED_VERSION reply instead).
pub(super) fn api_versions(addr: &str, timeout: Duration) -> Result<usize> {
    let sock: SocketAddr = addr
        .parse()
        .with_context(|| format!("bad address {addr}"))?;
    let mut stream = TcpStream::connect_timeout(&sock, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let correlation_id: i32 = 0x6b61_6678; // "kafx"
    let client_id = b"kafkaex-xtask";
    let mut body = Vec::new();
    body.extend_from_slice(&API_VERSIONS_KEY.to_be_bytes());
    body.extend_from_slice(&0i16.to_be_bytes()); // api_version
    body.extend_from_slice(&correlation_id.to_be_bytes());
    body.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    body.extend_from_slice(client_id);
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    stream.write_all(&frame)?;

    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let len = i32::from_be_bytes(len);
    ensure!(
        (10..1 << 20).contains(&len),
        "implausible ApiVersions response size {len}"
    );
    let mut resp = vec![0u8; len as usize];
    stream.read_exact(&mut resp)?;
    let got_id = i32::from_be_bytes(resp[0..4].try_into()?);
    ensure!(
        got_id == correlation_id,
        "correlation id {got_id}, sent {correlation_id}"
    );
    let error_code = i16::from_be_bytes(resp[4..6].try_into()?);
    ensure!(error_code == 0, "ApiVersions error code {error_code}");
    let count = i32::from_be_bytes(resp[6..10].try_into()?);
    ensure!(
        count > 0 && resp.len() >= 10 + 6 * count as usize,
        "ApiVersions response lists {count} APIs in {} bytes",
        resp.len()
    );
    Ok(count as usize)
}

/// Whether something accepts TCP connections on `addr`.
pub(super) fn port_open(addr: &str) -> bool {
    addr.parse::<SocketAddr>()
        .is_ok_and(|a| TcpStream::connect_timeout(&a, Duration::from_millis(500)).is_ok())
}

/// What "ready" means for one process.
#[derive(Debug, Clone)]
pub(super) enum Readiness {
    /// The port accepts connections (ZooKeeper).
    Port(String),
    /// The address answers ApiVersions; the other ports then also accept connections (the TLS
    /// listeners of the secure broker, which a plaintext request cannot probe).
    ApiVersions(String, Vec<String>),
}

/// Polls until `ready` holds, `alive` turns false (fails at once) or `deadline` passes.
pub(super) fn wait_ready(
    what: &str,
    ready: &Readiness,
    deadline: Instant,
    alive: impl Fn() -> bool,
) -> Result<()> {
    let mut last_err = String::from("not tried");
    loop {
        let ok = match ready {
            Readiness::Port(addr) => {
                let open = port_open(addr);
                if !open {
                    last_err = format!("nothing listening on {addr}");
                }
                open
            }
            Readiness::ApiVersions(addr, others) => {
                match api_versions(addr, Duration::from_secs(2)) {
                    Ok(_) => match others.iter().find(|o| !port_open(o)) {
                        None => true,
                        Some(o) => {
                            last_err = format!("nothing listening on {o}");
                            false
                        }
                    },
                    Err(e) => {
                        last_err = format!("ApiVersions to {addr}: {e:#}");
                        false
                    }
                }
            }
        };
        if ok {
            return Ok(());
        }
        if !alive() {
            bail!("{what} exited before it was ready");
        }
        if Instant::now() >= deadline {
            bail!("{what} not ready in time ({last_err})");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
