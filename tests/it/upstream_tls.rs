//! TLS to the upstream is always verified: a fake upstream with a self-signed certificate is refused as a
//! connect/TLS fault, while a client that trusts that certificate reaches it (so the refusal is the verification).

use std::sync::Arc;
use std::time::Duration;

use jbproxy::fake_upstream::mint_jwt;
use jbproxy::upstream::{UpstreamClient, UpstreamError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A TLS server on 127.0.0.1 with a self-signed certificate for `localhost`; answers every request with a valid
/// quota reply. Returns its port and the certificate (DER).
async fn self_signed_server() -> (u16, rustls::pki_types::CertificateDer<'static>) {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let cert_der = key.cert.der().clone();
    let key_der =
        rustls::pki_types::PrivateKeyDer::try_from(key.signing_key.serialize_der()).expect("key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone()], key_der)
        .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = [0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let body = r#"{"current":{"current":{"amount":"1"},"maximum":{"amount":"10"}}}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, cert_der)
}

fn config_for(url: &str) -> jbproxy::config::Config {
    let dir = tempfile::tempdir().expect("tempdir");
    let overrides = jbproxy::config::Overrides {
        jwt_tokens: Some(mint_jwt("tls", Duration::from_secs(3600))),
        upstream_url: Some(url.to_string()),
        ..Default::default()
    };
    let env = jbproxy::config::Env::from_pairs([]).with_home(dir.path());
    jbproxy::config::load(&overrides, &env).expect("config")
}

#[tokio::test]
async fn a_self_signed_upstream_certificate_is_refused() {
    let (port, cert) = self_signed_server().await;
    let config = config_for(&format!("https://localhost:{port}"));
    let client = UpstreamClient::new(&config).expect("client");
    let jwt = mint_jwt("tls", Duration::from_secs(3600));
    for _ in 0..2 {
        match client.quota(&jwt).await {
            Ok(quota) => panic!("a self-signed certificate was accepted: {quota:?}"),
            // A TLS failure happens while connecting: the upstream cannot be reached, and no token is to blame.
            Err(UpstreamError::Unreachable(message)) => {
                assert!(message.contains("cannot connect"), "{message}");
                assert!(
                    message.to_lowercase().contains("certificate")
                        || message.to_lowercase().contains("unknownissuer")
                        || message.to_lowercase().contains("invalid peer"),
                    "not a certificate failure: {message}"
                );
            }
            Err(other) => panic!("not a connect/TLS fault: {other:?}"),
        }
    }

    // Control: the same server with its certificate trusted answers, so the refusal above is verification.
    let trusting = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_der(cert.as_ref()).expect("cert")])
        .build()
        .expect("client");
    let answer = trusting
        .post(format!("https://localhost:{port}/user/v5/quota/get"))
        .send()
        .await
        .expect("a trusting client connects");
    assert_eq!(answer.status(), 200);
}
