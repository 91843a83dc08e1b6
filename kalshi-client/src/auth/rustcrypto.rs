//! The pure-Rust RSA backend ([`RsaBackend::RustCrypto`](super::RsaBackend::RustCrypto)).
//!
//! The `rsa` crate has a known timing side channel (RUSTSEC-2023-0071,
//! "Marvin"). Every signature here goes through `BlindedSigningKey`, which
//! blinds each private key operation with fresh randomness: the mitigation
//! the advisory recommends for signing.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::KeyPair as AwsRsaKeyPair;
use rsa::RsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::pss::BlindedSigningKey;
use rsa::rand_core::{CryptoRng, RngCore};
use rsa::signature::{RandomizedSigner, SignatureEncoding};
use sha2::Sha256;

use super::error::SignError;

/// Kalshi's PSS salt length: the SHA-256 digest length.
const PSS_SALT_LEN: usize = 32;

/// An RSA-PSS (SHA-256, MGF1-SHA-256, 32-byte salt) signer on the `rsa` crate.
pub(super) struct PssSigner(BlindedSigningKey<Sha256>);

impl PssSigner {
    /// Builds the signer from the already parsed aws-lc key (through its
    /// PKCS#8 export, zeroed on drop), so the PEM is not needed again.
    pub(super) fn from_aws_lc(key: &AwsRsaKeyPair) -> Result<Self, &'static str> {
        let der: Pkcs8V1Der<'static> = key
            .as_der()
            .map_err(|_| "aws-lc could not export the key")?;
        let key = RsaPrivateKey::from_pkcs8_der(der.as_ref())
            .map_err(|_| "the rsa crate rejected the key")?;
        Ok(Self(BlindedSigningKey::new_with_salt_len(
            key,
            PSS_SALT_LEN,
        )))
    }

    pub(super) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.0
            .try_sign_with_rng(&mut SystemRng, message)
            .map(|signature| signature.to_vec())
            .map_err(|_| SignError::new("the rsa crate failed to compute the RSA-PSS signature"))
    }
}

/// The operating system's CSPRNG, through aws-lc, for the salt and blinding.
///
/// A local adapter rather than `rand_core::OsRng`, which needs a `getrandom`
/// feature this crate would otherwise have to enable just for this.
struct SystemRng;

impl RngCore for SystemRng {
    fn next_u32(&mut self) -> u32 {
        let mut bytes = [0; 4];
        self.fill_bytes(&mut bytes);
        u32::from_le_bytes(bytes)
    }

    fn next_u64(&mut self) -> u64 {
        let mut bytes = [0; 8];
        self.fill_bytes(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    /// Panics if the OS has no randomness to give, as `OsRng` does: signing
    /// without it would be unsafe, and the `RngCore` contract has no error.
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        let filled = aws_lc_rs::rand::fill(dest);
        assert!(
            filled.is_ok(),
            "the operating system's random number generator failed"
        );
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for SystemRng {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_rng_fills_with_randomness() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        SystemRng.fill_bytes(&mut a);
        SystemRng.fill_bytes(&mut b);
        assert_ne!(a, b);
        assert_ne!(SystemRng.next_u64(), SystemRng.next_u64());
    }
}
