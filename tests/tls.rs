//! TLS on the API listener: with `[server] tls_cert` and `tls_key` the API is served over
//! rustls, a client that trusts the certificate talks to it, and plain HTTP gets nowhere.

mod common;

use common::TestServer;
use scxml_engine::EngineConfig;
use scxml_server::{StartOptions, Tls};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A certificate authority and a certificate for 127.0.0.1 it signed, made with the openssl
/// command line: (the authority's certificate, the server's chain, the server's key).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (ca_key, ca_cert) = (dir.join("ca-key.pem"), dir.join("ca.pem"));
    let (key, csr, cert) = (
        dir.join("key.pem"),
        dir.join("server.csr"),
        dir.join("cert.pem"),
    );
    let ext = dir.join("ext.cnf");
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let openssl = |args: &[&std::ffi::OsStr]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("the openssl command (package openssl)");
        assert!(status.success(), "openssl {args:?}");
    };
    let s = |t: &'static str| std::ffi::OsStr::new(t);
    openssl(&[
        s("req"),
        s("-x509"),
        s("-newkey"),
        s("rsa:2048"),
        s("-nodes"),
        s("-days"),
        s("1"),
        s("-subj"),
        s("/CN=test authority"),
        s("-keyout"),
        ca_key.as_os_str(),
        s("-out"),
        ca_cert.as_os_str(),
    ]);
    openssl(&[
        s("req"),
        s("-newkey"),
        s("rsa:2048"),
        s("-nodes"),
        s("-subj"),
        s("/CN=127.0.0.1"),
        s("-keyout"),
        key.as_os_str(),
        s("-out"),
        csr.as_os_str(),
    ]);
    openssl(&[
        s("x509"),
        s("-req"),
        s("-in"),
        csr.as_os_str(),
        s("-CA"),
        ca_cert.as_os_str(),
        s("-CAkey"),
        ca_key.as_os_str(),
        s("-CAcreateserial"),
        s("-days"),
        s("1"),
        s("-extfile"),
        ext.as_os_str(),
        s("-out"),
        cert.as_os_str(),
    ]);
    (ca_cert, cert, key)
}

#[test]
fn the_api_is_served_over_tls_to_a_client_that_trusts_its_certificate() {
    let dir = common::unique_dir("tls");
    let (ca, cert, key) = certificates(&dir);
    let server = TestServer::serve(StartOptions {
        tls: Some(Tls::from_pem_files(&cert, &key).unwrap()),
        ..common::loopback_options(EngineConfig {
            shards: 1,
            ..EngineConfig::default()
        })
    });
    assert_eq!(server.running().scheme, "https");
    let addr = server.running().api_addr;
    let pem = std::fs::read(&ca).unwrap();
    let root = ureq::tls::Certificate::from_pem(&pem).unwrap().to_owned();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![root])))
        .build();
    let client: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .build()
        .into();
    let mut answer = client
        .get(&format!("https://{addr}/sessions"))
        .header("authorization", format!("Bearer {}", common::ADMIN_TOKEN))
        .call()
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer
        .body_mut()
        .read_to_string()
        .unwrap()
        .contains("sessions"));
    // A client that does not trust it is refused by its own side; plain HTTP gets no answer.
    assert!(common::http_agent()
        .get(&format!("https://{addr}/healthz"))
        .call()
        .is_err());
    let plain = common::http_agent()
        .get(&format!("http://{addr}/healthz"))
        .call();
    assert!(plain.is_err() || plain.unwrap().status() != 200);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_key_that_is_not_pem_is_a_clear_error() {
    let dir = common::unique_dir("tls-bad");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, "not a certificate").unwrap();
    std::fs::write(&key, "not a key").unwrap();
    let err = Tls::from_pem_files(&cert, &key).unwrap_err().to_string();
    assert!(err.contains("cert.pem"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
