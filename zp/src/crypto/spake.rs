//! SPAKE2+ (RFC 9383) for the Known handshake, on ristretto255 so that a
//! share is the 32 bytes the zp wire carries.
//!
//! Group arithmetic, the M and N constants, the transcript encoding (RFC 9383
//! section 3.3), SHA-512, HKDF and HMAC all come from the `pakery` crates.
//! What zp adds is the order of those calls for its own flow: the zp wire has
//! no room for RFC 9383's confirmation MACs (KnownResponse and KnownFinish
//! are fixed at 1274 and 1111 bytes), so key confirmation is implicit: the
//! server's ML-KEM key is sealed with AES-256-GCM under the SPAKE2+ key, and
//! a peer without the password fails to open it. `pakery-spake2plus`'s own
//! prover and verifier insist on exchanging the MACs, so they cannot run this
//! flow; the tests below prove this module computes exactly what they do.
//!
//! The secret points `Z` and `V` (and the `tmp` they come from) are
//! computed as curve25519-dalek `RistrettoPoint`s, which zeroize, inside
//! `Zeroizing`: pakery's group wrapper does not implement `Zeroize`, and zp
//! forbids the unsafe code that would wipe it. The arithmetic is the same
//! crate's either way (pakery's ristretto255 group wraps these points).

use super::{CryptoRng, Key32};
use crate::error::Error;
use core::fmt;
use curve25519_dalek::RistrettoPoint;
use curve25519_dalek::ristretto::CompressedRistretto;
use curve25519_dalek::traits::IsIdentity;
use pakery_core::crypto::{CpaceGroup, Hash, Kdf};
use pakery_crypto::suites::Spake2PlusRistretto255 as Suite;
use pakery_spake2plus::Spake2PlusCiphersuite;
use pakery_spake2plus::encoding::build_transcript;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

type Group = <Suite as Spake2PlusCiphersuite>::Group;
type Scalar = <Group as CpaceGroup>::Scalar;
type SuiteHash = <Suite as Spake2PlusCiphersuite>::Hash;
type SuiteKdf = <Suite as Spake2PlusCiphersuite>::Kdf;
const NH: usize = <Suite as Spake2PlusCiphersuite>::NH;

/// The start of RFC 9383's `Context`, binding every run to zp v1.0's Known
/// handshake; the handshake appends the client's offer and the server's
/// selection (see [`crate::handshake::known`]), so that an offer altered on
/// path gives the two sides different keys.
pub(crate) const CONTEXT: &[u8] = b"zp v1.0 known handshake";
/// Salt of the password hash; the identities are part of its input.
const PBKDF_SALT: &[u8] = b"zp-spake2plus-registration";

/// The client's (prover's) secret: `w0` and `w1` derived from the password.
/// Zeroized on drop, hidden from `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PasswordSecret {
    w0: Scalar,
    w1: Scalar,
    #[zeroize(skip)]
    client_id: Vec<u8>,
    #[zeroize(skip)]
    server_id: Vec<u8>,
}

impl fmt::Debug for PasswordSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordSecret(..)")
    }
}

/// The server's (verifier's) record: `w0` and `L = w1*G`. It does not reveal
/// the password, but it must be kept secret like one.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct VerifierRecord {
    w0: Scalar,
    l: [u8; 32],
    #[zeroize(skip)]
    client_id: Vec<u8>,
    #[zeroize(skip)]
    server_id: Vec<u8>,
}

impl fmt::Debug for VerifierRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VerifierRecord(..)")
    }
}

fn scalar_from_wide(bytes: &[u8]) -> Scalar {
    Group::scalar_from_wide_bytes(bytes).expect("64 bytes is the wide-scalar length")
}

fn point(bytes: &[u8]) -> Result<Group, Error> {
    let p = Group::from_bytes(bytes).map_err(|_| Error::InvalidValue("SPAKE2+ share"))?;
    if p.is_identity() {
        return Err(Error::InvalidValue("SPAKE2+ share"));
    }
    Ok(p)
}

fn share_bytes(p: &Group) -> [u8; 32] {
    p.to_bytes()
        .try_into()
        .expect("ristretto255 encodes in 32 bytes")
}

/// A canonical, non-identity ristretto255 point, as curve25519-dalek's type.
fn dalek_point(bytes: &[u8]) -> Result<RistrettoPoint, Error> {
    let bad = Error::InvalidValue("SPAKE2+ share");
    let p = CompressedRistretto::from_slice(bytes)
        .ok()
        .and_then(|c| c.decompress())
        .ok_or(bad)?;
    if p.is_identity() {
        return Err(bad);
    }
    Ok(p)
}

/// The encodings of `Z` and `V`, wiped when dropped.
type SharedPoints = (Zeroizing<[u8; 32]>, Zeroizing<[u8; 32]>);

/// `Z` and `V` from `tmp` and their two scalars, refusing the identity;
/// everything secret is wiped when dropped.
fn z_and_v(
    tmp: &RistrettoPoint,
    z_scalar: &Scalar,
    v_base: &RistrettoPoint,
    v_scalar: &Scalar,
) -> Result<SharedPoints, Error> {
    let z = Zeroizing::new(tmp * z_scalar);
    let v = Zeroizing::new(v_base * v_scalar);
    if z.is_identity() || v.is_identity() {
        return Err(Error::InvalidValue("SPAKE2+ share"));
    }
    let bytes = |p: &RistrettoPoint| Zeroizing::new(Zeroizing::new(p.compress()).to_bytes());
    Ok((bytes(&z), bytes(&v)))
}

impl PasswordSecret {
    /// Derives `w0 || w1` from the password and both identities with
    /// PBKDF2-HMAC-SHA256 over RFC 9383 section 3.2's input
    /// (`len(pw) || pw || len(idProver) || idProver || len(idVerifier) || idVerifier`,
    /// each length 8 bytes little-endian). `rounds` sets the cost: OWASP
    /// recommends 600 000 for PBKDF2-HMAC-SHA256. Derive once and keep the
    /// result; it is not part of any handshake.
    pub fn derive(password: &[u8], client_id: &[u8], server_id: &[u8], rounds: u32) -> Self {
        let mut input = Zeroizing::new(Vec::new());
        for part in [password, client_id, server_id] {
            input.extend_from_slice(&(part.len() as u64).to_le_bytes());
            input.extend_from_slice(part);
        }
        let mut out = Zeroizing::new([0u8; 128]);
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(&input, PBKDF_SALT, rounds.max(1), &mut out[..]);
        PasswordSecret {
            w0: scalar_from_wide(&out[..64]),
            w1: scalar_from_wide(&out[64..]),
            client_id: client_id.to_vec(),
            server_id: server_id.to_vec(),
        }
    }

    /// The record the server stores for this client.
    pub fn verifier_record(&self) -> VerifierRecord {
        let l = pakery_spake2plus::compute_verifier::<Suite>(&self.w1);
        VerifierRecord {
            w0: self.w0,
            l: l.try_into().expect("ristretto255 encodes in 32 bytes"),
            client_id: self.client_id.clone(),
            server_id: self.server_id.clone(),
        }
    }
}

/// RFC 9383 section 3.4's key schedule from `K_main = Hash(TT)`; zp keeps
/// only `K_shared`'s first 32 bytes (an HKDF-Expand prefix, so exactly
/// `HKDF-Expand(PRK, "SharedKey", 32)`).
struct Schedule {
    prk: Zeroizing<Vec<u8>>,
}

impl Schedule {
    #[allow(clippy::too_many_arguments)]
    fn new(
        context: &[u8],
        ids: (&[u8], &[u8]),
        share_p: &[u8],
        share_v: &[u8],
        z: &[u8; 32],
        v: &[u8; 32],
        w0: &Scalar,
    ) -> Self {
        let m = point(pakery_crypto::SPAKE2_M_COMPRESSED.as_slice()).expect("M is valid");
        let n = point(pakery_crypto::SPAKE2_N_COMPRESSED.as_slice()).expect("N is valid");
        let tt = build_transcript(
            context,
            ids.0,
            ids.1,
            &m.to_bytes(),
            &n.to_bytes(),
            share_p,
            share_v,
            z,
            v,
            &Zeroizing::new(Group::scalar_to_bytes(w0)),
        );
        let k_main = Zeroizing::new(SuiteHash::digest(&tt));
        Schedule {
            prk: SuiteKdf::extract(&[], &k_main[..NH]),
        }
    }

    fn spake_key(&self) -> Key32 {
        let okm = SuiteKdf::expand(&self.prk, b"SharedKey", 32).expect("32 <= 255 * NH");
        Key32::new(okm[..].try_into().expect("asked for 32 bytes"))
    }

    /// `(confirmP, confirmV)`, which zp never sends; only the tests compare
    /// them with pakery-spake2plus's.
    #[cfg(test)]
    fn confirmations(&self, share_p: &[u8], share_v: &[u8]) -> (Vec<u8>, Vec<u8>) {
        use pakery_core::crypto::Mac;
        type SuiteMac = <Suite as Spake2PlusCiphersuite>::Mac;
        let kc = SuiteKdf::expand(&self.prk, b"ConfirmationKeys", 2 * NH).unwrap();
        (
            SuiteMac::mac(&kc[..NH], share_v).unwrap(),
            SuiteMac::mac(&kc[NH..], share_p).unwrap(),
        )
    }
}

/// The client's half-finished SPAKE2+ run: holds `x` until `shareV` arrives.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct SpakeProver {
    x: Scalar,
    share_p: [u8; 32],
}

impl fmt::Debug for SpakeProver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SpakeProver(..)")
    }
}

impl SpakeProver {
    /// `shareP = x*G + w0*M`.
    pub(crate) fn start(secret: &PasswordSecret, rng: &mut impl CryptoRng) -> (Self, [u8; 32]) {
        let x = Group::random_scalar(rng);
        let m = point(pakery_crypto::SPAKE2_M_COMPRESSED.as_slice()).expect("M is valid");
        let share_p = share_bytes(&Group::basepoint_mul(&x).add(&m.scalar_mul(&secret.w0)));
        (SpakeProver { x, share_p }, share_p)
    }

    fn schedule(
        &self,
        secret: &PasswordSecret,
        share_v: &[u8; 32],
        context: &[u8],
    ) -> Result<Schedule, Error> {
        let share_v_point = dalek_point(share_v)?;
        let n = dalek_point(pakery_crypto::SPAKE2_N_COMPRESSED.as_slice()).expect("N is valid");
        // tmp = shareV - w0*N = y*G; Z = x*tmp, V = w1*tmp.
        let tmp = Zeroizing::new(share_v_point - n * secret.w0);
        let (z, v) = z_and_v(&tmp, &self.x, &tmp, &secret.w1)?;
        Ok(Schedule::new(
            context,
            (&secret.client_id, &secret.server_id),
            &self.share_p,
            share_v,
            &z,
            &v,
            &secret.w0,
        ))
    }

    /// The SPAKE2+ key, from the server's share and RFC 9383's `Context`.
    pub(crate) fn finish(
        self,
        secret: &PasswordSecret,
        share_v: &[u8; 32],
        context: &[u8],
    ) -> Result<Key32, Error> {
        Ok(self.schedule(secret, share_v, context)?.spake_key())
    }
}

fn verifier_schedule(
    record: &VerifierRecord,
    share_p: &[u8; 32],
    context: &[u8],
    y: &Scalar,
) -> Result<([u8; 32], Schedule), Error> {
    let share_p_point = dalek_point(share_p)?;
    let m = dalek_point(pakery_crypto::SPAKE2_M_COMPRESSED.as_slice()).expect("M is valid");
    let n = dalek_point(pakery_crypto::SPAKE2_N_COMPRESSED.as_slice()).expect("N is valid");
    let l = dalek_point(&record.l)?;
    // shareV = y*G + w0*N; tmp = shareP - w0*M = x*G; Z = y*tmp, V = y*L.
    let share_v = (RistrettoPoint::mul_base(y) + n * record.w0)
        .compress()
        .to_bytes();
    let tmp = Zeroizing::new(share_p_point - m * record.w0);
    let (z, v) = z_and_v(&tmp, y, &l, y)?;
    let schedule = Schedule::new(
        context,
        (&record.client_id, &record.server_id),
        share_p,
        &share_v,
        &z,
        &v,
        &record.w0,
    );
    Ok((share_v, schedule))
}

/// The server's whole SPAKE2+ step: `shareV` and the SPAKE2+ key, with
/// RFC 9383's `Context`.
pub(crate) fn spake_verifier_respond(
    record: &VerifierRecord,
    share_p: &[u8; 32],
    context: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<([u8; 32], Key32), Error> {
    let y = Zeroizing::new(Group::random_scalar(rng));
    let (share_v, schedule) = verifier_schedule(record, share_p, context, &y)?;
    Ok((share_v, schedule.spake_key()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pakery_spake2plus::{Prover, Verifier};

    fn secret() -> PasswordSecret {
        PasswordSecret::derive(b"correct horse", b"alice", b"server", 1)
    }

    /// pakery-spake2plus's own prover accepts this module's verifier: the
    /// transcripts are identical and so are the keys.
    #[test]
    fn library_prover_agrees_with_zp_verifier() {
        let mut rng = crate::crypto::system_rng();
        let s = secret();
        let record = s.verifier_record();
        let (share_p, lib_prover) =
            Prover::<Suite>::start(&s.w0, &s.w1, CONTEXT, b"alice", b"server", &mut rng).unwrap();
        let share_p: [u8; 32] = share_p.try_into().unwrap();
        let y = Group::random_scalar(&mut rng);
        let (share_v, schedule) = verifier_schedule(&record, &share_p, CONTEXT, &y).unwrap();
        let (_, confirm_v) = schedule.confirmations(&share_p, &share_v);
        let out = lib_prover.finish(&share_v, &confirm_v).unwrap();
        assert_eq!(
            &out.session_key.as_bytes()[..32],
            schedule.spake_key().expose()
        );
    }

    /// pakery-spake2plus's own verifier accepts this module's prover.
    #[test]
    fn library_verifier_agrees_with_zp_prover() {
        let mut rng = crate::crypto::system_rng();
        let s = secret();
        let record = s.verifier_record();
        let (prover, share_p) = SpakeProver::start(&s, &mut rng);
        let (share_v, confirm_v, lib_verifier) = Verifier::<Suite>::start(
            &share_p, &record.w0, &record.l, CONTEXT, b"alice", b"server", &mut rng,
        )
        .unwrap();
        let share_v: [u8; 32] = share_v.try_into().unwrap();
        let schedule = prover.schedule(&s, &share_v, CONTEXT).unwrap();
        let (confirm_p, my_confirm_v) = schedule.confirmations(&share_p, &share_v);
        assert_eq!(my_confirm_v, confirm_v);
        let out = lib_verifier.finish(&confirm_p).unwrap();
        assert_eq!(
            &out.session_key.as_bytes()[..32],
            schedule.spake_key().expose()
        );
    }

    #[test]
    fn same_password_same_key_wrong_password_different_key() {
        let mut rng = crate::crypto::system_rng();
        let s = secret();
        let record = s.verifier_record();
        let (prover, share_p) = SpakeProver::start(&s, &mut rng);
        let (share_v, server_key) =
            spake_verifier_respond(&record, &share_p, CONTEXT, &mut rng).unwrap();
        assert_eq!(prover.finish(&s, &share_v, CONTEXT).unwrap(), server_key);

        let wrong = PasswordSecret::derive(b"battery staple", b"alice", b"server", 1);
        let (prover, share_p) = SpakeProver::start(&wrong, &mut rng);
        let (share_v, server_key) =
            spake_verifier_respond(&record, &share_p, CONTEXT, &mut rng).unwrap();
        assert_ne!(
            prover.finish(&wrong, &share_v, CONTEXT).unwrap(),
            server_key
        );
    }

    #[test]
    fn identity_and_invalid_shares_are_refused() {
        let mut rng = crate::crypto::system_rng();
        let record = secret().verifier_record();
        assert!(spake_verifier_respond(&record, &[0; 32], CONTEXT, &mut rng).is_err());
        assert!(spake_verifier_respond(&record, &[0xff; 32], CONTEXT, &mut rng).is_err());
    }
}
