//! Test certificates for the `secure` profile, made with the JDK's `keytool` (no openssl needed):
//! a CA, and a broker certificate for `localhost` / `127.0.0.1` signed by it.
//!
//! Why a CA and not one self-signed certificate: rustls (webpki) refuses a CA certificate as a
//! server's end-entity certificate, so clients must trust a CA that signed a separate leaf.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Password of every keystore/truststore made here (test material only).
pub(super) const STORE_PASSWORD: &str = "kafkaex-test";

/// Where the material ended up.
#[derive(Debug)]
pub(super) struct TestCerts {
    /// The CA certificate, PEM (for rustls clients).
    pub(super) ca_pem: PathBuf,
    /// PKCS#12 truststore holding the CA (for Java clients).
    pub(super) truststore: PathBuf,
    /// PKCS#12 keystore with the broker's key and chain (for the broker).
    pub(super) keystore: PathBuf,
}

/// Generates fresh material in `dir` (`ca.pem`, `truststore.p12`, `broker.p12` and the
/// intermediate files), replacing any old one.
pub(super) fn generate(dir: &Path) -> Result<TestCerts> {
    std::fs::create_dir_all(dir)?;
    let ca_store = dir.join("ca.p12");
    let ca_pem = dir.join("ca.pem");
    let keystore = dir.join("broker.p12");
    let truststore = dir.join("truststore.p12");
    let csr = dir.join("broker.csr");
    let broker_pem = dir.join("broker.pem");
    // keytool adds to an existing store: stale ones from an earlier run must go.
    for store in [&ca_store, &keystore, &truststore] {
        if store.exists() {
            std::fs::remove_file(store)?;
        }
    }
    let store_args = |store: &Path| -> Vec<String> {
        vec![
            "-keystore".into(),
            store.display().to_string(),
            "-storetype".into(),
            "PKCS12".into(),
            "-storepass".into(),
            STORE_PASSWORD.into(),
        ]
    };
    // EC P-256: generated in a fraction of RSA's time, and accepted by rustls, OpenSSL and Java.
    let key_args = [
        "-keyalg",
        "EC",
        "-groupname",
        "secp256r1",
        "-validity",
        "3650",
    ];

    keytool(
        &[
            &[
                "-genkeypair",
                "-alias",
                "ca",
                "-dname",
                "CN=kafkaex test CA",
            ][..],
            &key_args,
            // basicConstraints CA:true plus keyCertSign, or webpki will not accept it as an issuer.
            &["-ext", "bc:c", "-ext", "ku:c=keyCertSign,cRLSign"],
        ]
        .concat(),
        &store_args(&ca_store),
    )?;
    keytool(
        &[
            "-exportcert",
            "-rfc",
            "-alias",
            "ca",
            "-file",
            path(&ca_pem),
        ],
        &store_args(&ca_store),
    )?;
    keytool(
        &[
            "-importcert",
            "-noprompt",
            "-alias",
            "ca",
            "-file",
            path(&ca_pem),
        ],
        &store_args(&truststore),
    )?;
    keytool(
        &[
            &["-genkeypair", "-alias", "broker", "-dname", "CN=localhost"][..],
            &key_args,
        ]
        .concat(),
        &store_args(&keystore),
    )?;
    keytool(
        &["-certreq", "-alias", "broker", "-file", path(&csr)],
        &store_args(&keystore),
    )?;
    keytool(
        &[
            "-gencert",
            "-rfc",
            "-alias",
            "ca",
            "-infile",
            path(&csr),
            "-outfile",
            path(&broker_pem),
            "-validity",
            "3650",
            // Clients check the name they dialled against the SANs, never the CN.
            "-ext",
            "san=dns:localhost,ip:127.0.0.1",
            "-ext",
            "ku:c=digitalSignature,keyEncipherment",
            "-ext",
            "eku=serverAuth,clientAuth",
        ],
        &store_args(&ca_store),
    )?;
    // The CA first, so that importing the signed reply can build the chain.
    keytool(
        &[
            "-importcert",
            "-noprompt",
            "-alias",
            "ca",
            "-file",
            path(&ca_pem),
        ],
        &store_args(&keystore),
    )?;
    keytool(
        &[
            "-importcert",
            "-alias",
            "broker",
            "-file",
            path(&broker_pem),
        ],
        &store_args(&keystore),
    )?;
    Ok(TestCerts {
        ca_pem,
        truststore,
        keystore,
    })
}

fn path(p: &Path) -> &str {
    p.to_str().expect("workspace paths are UTF-8")
}

fn keytool(args: &[&str], store: &[String]) -> Result<()> {
    let output = Command::new("keytool")
        // Nine short JVM runs: C1 only and the serial GC roughly halve each one's start-up.
        .args(["-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC"])
        .args(args)
        .args(store)
        .output()
        .context("running keytool (is a JDK on PATH?)")?;
    if !output.status.success() {
        bail!(
            "keytool {} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}
