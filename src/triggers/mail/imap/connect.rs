//! Opening a session: TCP within the timeout, TLS (implicit or STARTTLS) with the system's
//! and the configured CAs, the greeting, LOGIN; and the errors that come of it, tidied.

use super::*;

/// Resolves the host and connects to the first address that answers, both within the timeout.
/// For `security = none` every resolved address must be loopback.
pub(super) async fn open_tcp(
    settings: &ImapSettings,
    server: &str,
    loopback_only: bool,
) -> Result<TcpStream, Error> {
    let host = bare_host(&settings.host);
    let connect_error = |source: io::Error| Error::Connect {
        server: server.to_owned(),
        source,
    };
    let timed_out = |operation| Error::Timeout {
        server: server.to_owned(),
        operation,
        after: settings.timeout,
    };
    let addrs: Vec<SocketAddr> = tokio::time::timeout(
        settings.timeout,
        tokio::net::lookup_host((host, settings.port)),
    )
    .await
    .map_err(|_| timed_out("DNS lookup"))?
    .map_err(connect_error)?
    .collect();
    if loopback_only && let Some(addr) = addrs.iter().find(|addr| !is_loopback_ip(addr.ip())) {
        return Err(Error::Insecure {
            host: format!("{} (resolved to {})", settings.host, addr.ip()),
        });
    }
    let connect = async {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the host name has no address");
        for addr in &addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => return Ok(stream),
                Err(error) => last = error,
            }
        }
        Err(last)
    };
    let tcp = tokio::time::timeout(settings.timeout, connect)
        .await
        .map_err(|_| timed_out("TCP connect"))?
        .map_err(connect_error)?;
    // Commands are small and answered one at a time: do not let Nagle delay them.
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// A TLS client trusting the platform's CAs plus those in `ca_file`.
pub(super) fn tls_connector(ca_file: Option<&Path>, server: &str) -> Result<TlsConnector, Error> {
    let tls_error = |message: String| Error::Tls {
        server: server.to_owned(),
        message,
    };
    let mut extra_roots: Vec<CertificateDer<'static>> = Vec::new();
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|error| {
                tls_error(format!("cannot read CA file {}: {error}", path.display()))
            })?;
        if certs.is_empty() {
            return Err(tls_error(format!(
                "CA file {} contains no PEM certificate",
                path.display()
            )));
        }
        extra_roots = certs;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider.clone())
            .map_err(|error| tls_error(format!("cannot set up certificate checks: {error}")))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| tls_error(error.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The TLS handshake over the (timed) TCP stream, with errors an operator can act on.
pub(super) async fn handshake(
    tls: &TlsConnector,
    settings: &ImapSettings,
    server: &str,
    timed: Timed,
) -> Result<TlsStream<Timed>, Error> {
    let tls_error = |message: String| Error::Tls {
        server: server.to_owned(),
        message,
    };
    let name = ServerName::try_from(bare_host(&settings.host).to_owned()).map_err(|_| {
        tls_error(format!(
            "{:?} is not a valid TLS server name",
            settings.host
        ))
    })?;
    match tls.connect(name, timed).await {
        Ok(stream) => Ok(stream),
        Err(error) if error.kind() == io::ErrorKind::TimedOut => Err(Error::Timeout {
            server: server.to_owned(),
            operation: "TLS handshake",
            after: settings.timeout,
        }),
        Err(error) => {
            let Some(tls) = error
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            else {
                return Err(tls_error(format!("handshake failed: {error}")));
            };
            let hint = match tls {
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer) => {
                    match &settings.ca_file {
                        None => {
                            " (a private CA? name its PEM file in the CA file setting)".to_owned()
                        }
                        Some(path) => format!(
                            " (neither a system CA nor one in {} signed it)",
                            path.display()
                        ),
                    }
                }
                rustls::Error::InvalidMessage(_) if settings.security == ImapSecurity::Tls => {
                    format!(
                        " (is port {} plain IMAP? use security = \"starttls\" there)",
                        settings.port
                    )
                }
                _ => String::new(),
            };
            Err(tls_error(format!("{tls}{hint}")))
        }
    }
}

/// Reads the server greeting, which must be `* OK`.
pub(super) async fn greeting(
    client: &mut async_imap::Client<Wire>,
    settings: &ImapSettings,
    server: &str,
) -> Result<(), Error> {
    let response = match client.read_response().await {
        Ok(Some(response)) => response,
        Ok(None) => {
            return Err(Error::Io {
                server: server.to_owned(),
                source: io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection before its greeting",
                ),
            });
        }
        Err(error) => {
            return Err(classify(
                server,
                "greeting",
                ImapError::Io(error),
                settings.timeout,
            ));
        }
    };
    let protocol = |message: String| Error::Protocol {
        server: server.to_owned(),
        command: "greeting",
        message,
    };
    match response.parsed() {
        Response::Data {
            status: Status::Ok, ..
        } => Ok(()),
        Response::Data {
            status: Status::Bye,
            outcome,
        } => Err(protocol(format!(
            "the server refused the connection: {}",
            outcome.information.as_deref().unwrap_or("BYE")
        ))),
        Response::Data {
            status: Status::PreAuth,
            ..
        } => Err(protocol(
            "the server pre-authenticated the connection; this client only logs in".to_owned(),
        )),
        other => Err(protocol(format!("unexpected greeting {other:?}"))),
    }
}

/// `LOGIN` with the password swapped in below async-imap (see the module docs).
pub(super) async fn login(
    mut client: async_imap::Client<Wire>,
    settings: &ImapSettings,
    server: &str,
) -> Result<ImapSession, Error> {
    let auth_error = |message: &str| Error::Auth {
        server: server.to_owned(),
        username: settings.username.clone(),
        message: message.to_owned(),
    };
    if settings.password.contains(['\r', '\n', '\0']) {
        return Err(auth_error(
            "the password contains a line break or NUL, which IMAP LOGIN cannot send",
        ));
    }
    let placeholder = format!("jira-mirror-password-{:032x}", rand::random::<u128>());
    client.get_mut().rewrite = Some(LoginRewrite::new(&placeholder, &settings.password));
    let result = client.login(&settings.username, &placeholder).await;
    match result {
        Ok(mut imap) => {
            imap.as_mut().rewrite = None;
            debug!(server, username = %settings.username, "IMAP login accepted.");
            Ok(imap)
        }
        Err((error, mut client)) => {
            client.get_mut().rewrite = None;
            Err(match error {
                ImapError::No(m) | ImapError::Bad(m) => auth_error(&tidy(&m)),
                ImapError::Validate(_) => auth_error("the user name contains a line break"),
                other => classify(server, "LOGIN", other, settings.timeout),
            })
        }
    }
}

/// Maps an async-imap error to ours (without dropping anything: see [`Session::fail`]).
pub(super) fn classify(
    server: &str,
    command: &'static str,
    error: ImapError,
    timeout: Duration,
) -> Error {
    let server = server.to_owned();
    match error {
        ImapError::Io(source) if source.kind() == io::ErrorKind::TimedOut => Error::Timeout {
            server,
            operation: command,
            after: timeout,
        },
        ImapError::Io(source) => Error::Io { server, source },
        ImapError::ConnectionLost => Error::Io {
            server,
            source: io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ),
        },
        ImapError::No(m) | ImapError::Bad(m) => Error::Protocol {
            server,
            command,
            message: tidy(&m),
        },
        other => Error::Protocol {
            server,
            command,
            message: other.to_string(),
        },
    }
}

/// async-imap renders a `NO`/`BAD` answer as `code: Some(…), info: Some("…")` (or, for
/// `SELECT`, `outcome: Outcome { code: …, information: Some("…") }`); this turns it back into
/// what the server said, e.g. `[AUTHENTICATIONFAILED] Authentication failed.`.
pub(super) fn tidy(message: &str) -> String {
    let text = ["info: Some(\"", "information: Some(\""]
        .iter()
        .find_map(|marker| {
            let start = message.find(marker)? + marker.len();
            let rest = &message[start..];
            Some(&rest[..rest.rfind("\")")?])
        })
        .map(|text| text.replace("\\\"", "\"").replace("\\\\", "\\"));
    let code = message
        .find("code: Some(")
        .map(|start| &message[start + "code: Some(".len()..])
        .and_then(|rest| rest.split([',', '(', ')', ' ']).next())
        .filter(|code| !code.is_empty());
    let code = match code {
        // `Other("AUTHENTICATIONFAILED", None)`: the atom is the interesting part.
        Some("Other") => message
            .split('"')
            .nth(1)
            .filter(|atom| atom.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            .map(str::to_owned),
        Some(code) => Some(code.to_ascii_uppercase()),
        None => None,
    };
    match (code, text) {
        (Some(code), Some(text)) => format!("[{code}] {text}"),
        (None, Some(text)) => text,
        _ => message.to_owned(),
    }
}

pub(super) fn server_label(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The host without IPv6 brackets or a trailing dot.
pub(super) fn bare_host(host: &str) -> &str {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.strip_suffix('.').unwrap_or(host)
}

/// `localhost`, or an address in 127.0.0.0/8 or `::1` (same rule as the config layer).
pub(super) fn is_loopback_host(host: &str) -> bool {
    let host = bare_host(host);
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(is_loopback_ip)
}

pub(super) fn is_loopback_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}
