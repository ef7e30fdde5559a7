//! Container IDs and names.

use rand::seq::IndexedRandom;

use crate::error::{DomainError, DomainResult};

/// A new container ID: 64 hex digits whose 12-digit short form is never all decimal digits
/// (so it cannot be mistaken for a number).
pub fn new_id() -> String {
    loop {
        let id = hex::encode(rand::random::<[u8; 32]>());
        if !id[..12].bytes().all(|b| b.is_ascii_digit()) {
            return id;
        }
    }
}

/// Checks a user-given name: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn validate_name(name: &str) -> DomainResult<()> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(())
    } else {
        Err(DomainError::InvalidArgument(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )))
    }
}

const ADJECTIVES: &[&str] = &[
    "agile", "amber", "ardent", "bold", "brave", "bright", "calm", "candid", "careful", "clever",
    "cosmic", "curious", "daring", "deft", "eager", "earnest", "elated", "fearless", "fervent",
    "festive", "gentle", "gifted", "glad", "golden", "graceful", "happy", "hardy", "humble",
    "jolly", "keen", "kind", "lively", "lucid", "lucky", "merry", "mighty", "modest", "nimble",
    "noble", "patient", "plucky", "polite", "proud", "quick", "quiet", "radiant", "rapid",
    "serene", "sharp", "shiny", "silent", "sleek", "smooth", "snappy", "spry", "steady", "stoic",
    "sturdy", "sunny", "swift", "tender", "tidy", "tranquil", "trusty", "upbeat", "valiant",
    "vivid", "warm", "wise", "witty", "zealous", "zesty",
];

const SURNAMES: &[&str] = &[
    "agnesi",
    "archimedes",
    "babbage",
    "bardeen",
    "bernoulli",
    "bohr",
    "boole",
    "cantor",
    "carson",
    "cauchy",
    "chandrasekhar",
    "curie",
    "darwin",
    "descartes",
    "dijkstra",
    "dirac",
    "euclid",
    "euler",
    "faraday",
    "fermat",
    "fermi",
    "feynman",
    "fourier",
    "franklin",
    "galileo",
    "galois",
    "gauss",
    "germain",
    "goodall",
    "hamilton",
    "hawking",
    "heisenberg",
    "hilbert",
    "hopper",
    "hubble",
    "huygens",
    "hypatia",
    "jackson",
    "johnson",
    "joule",
    "kepler",
    "knuth",
    "kovalevskaya",
    "lamarr",
    "laplace",
    "lavoisier",
    "leibniz",
    "lovelace",
    "maxwell",
    "meitner",
    "mendel",
    "mirzakhani",
    "newton",
    "noether",
    "pascal",
    "pasteur",
    "planck",
    "poincare",
    "ramanujan",
    "riemann",
    "ritchie",
    "rutherford",
    "sagan",
    "shannon",
    "tesla",
    "thompson",
    "turing",
    "volta",
    "wiles",
    "wozniak",
    "wu",
    "yalow",
];

/// A random `adjective_surname`; `attempt` > 0 appends a digit, to get past collisions.
pub fn random_name(attempt: u32) -> String {
    let mut rng = rand::rng();
    let adjective = ADJECTIVES.choose(&mut rng).copied().unwrap_or("quiet");
    let surname = SURNAMES.choose(&mut rng).copied().unwrap_or("turing");
    if attempt == 0 {
        format!("{adjective}_{surname}")
    } else {
        format!("{adjective}_{surname}{}", rand::random_range(0..10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_digits_with_a_non_numeric_short_form() {
        for _ in 0..200 {
            let id = new_id();
            assert_eq!(id.len(), 64);
            assert!(id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
            assert!(!id[..12].bytes().all(|b| b.is_ascii_digit()));
        }
        assert_ne!(new_id(), new_id());
    }

    #[test]
    fn names_follow_the_docker_rule() {
        for good in ["web", "a", "web-1", "my_app.v2", "9lives"] {
            validate_name(good).unwrap();
        }
        for bad in ["", "/web", "a/b", "-x", "_x", ".x", "a b", "ü", "x:y"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn generated_names_are_valid_adjective_surname() {
        for attempt in 0..3 {
            let name = random_name(attempt);
            validate_name(&name).unwrap();
            let (adjective, surname) = name.split_once('_').unwrap();
            assert!(ADJECTIVES.contains(&adjective));
            let surname = surname.trim_end_matches(|c: char| c.is_ascii_digit());
            assert!(SURNAMES.contains(&surname));
        }
    }

    proptest::proptest! {
        #[test]
        fn validation_never_accepts_a_slash_or_a_leading_symbol(name in "\\PC{0,20}") {
            if validate_name(&name).is_ok() {
                proptest::prop_assert!(!name.contains('/'));
                proptest::prop_assert!(name.chars().next().unwrap().is_ascii_alphanumeric());
            }
        }
    }
}
