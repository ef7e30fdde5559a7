//! `--ulimit name=soft[:hard]`.

use berth_proto::node::v1::Ulimit;

/// The resource names setrlimit knows, without the `RLIMIT_` prefix.
const NAMES: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// Parses `nofile=1024:2048` (the hard limit defaults to the soft one; -1 means unlimited).
pub fn parse_ulimit(text: &str) -> Result<Ulimit, String> {
    let (name, limits) = text
        .split_once('=')
        .ok_or_else(|| format!("invalid ulimit argument: {text}"))?;
    if !NAMES.contains(&name) {
        return Err(format!("invalid ulimit type: {name}"));
    }
    let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
    let number = |s: &str| -> Result<i64, String> {
        let value: i64 = s
            .parse()
            .map_err(|_| format!("invalid ulimit argument: {text}"))?;
        if value < -1 {
            return Err(format!("invalid ulimit argument: {text}"));
        }
        Ok(value)
    };
    let (soft, hard) = (number(soft)?, number(hard)?);
    // -1 is unlimited, the largest value of all.
    let rank = |v: i64| if v == -1 { i64::MAX } else { v };
    if rank(soft) > rank(hard) {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        ));
    }
    Ok(Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn soft_and_hard() {
        let u = parse_ulimit("nofile=1024:2048").unwrap();
        assert_eq!((u.name.as_str(), u.soft, u.hard), ("nofile", 1024, 2048));
        let u = parse_ulimit("nproc=64").unwrap();
        assert_eq!((u.soft, u.hard), (64, 64));
        let u = parse_ulimit("core=-1").unwrap();
        assert_eq!((u.soft, u.hard), (-1, -1));
        let u = parse_ulimit("core=0:-1").unwrap();
        assert_eq!((u.soft, u.hard), (0, -1));
    }

    #[test]
    fn bad_input() {
        for bad in [
            "nofile",
            "bogus=1",
            "nofile=",
            "nofile=a",
            "nofile=10:5",
            "nofile=-2",
            "nofile=1:2:3",
            "nofile=-1:5",
        ] {
            assert!(parse_ulimit(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(
            parse_ulimit("nofile=10:5").unwrap_err(),
            "ulimit soft limit must be less than or equal to hard limit: 10 > 5"
        );
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,24}") {
            let _ = parse_ulimit(&text);
        }

        #[test]
        fn accepts_ordered_limits(soft in 0i64..1_000_000, extra in 0i64..1_000_000) {
            let u = parse_ulimit(&format!("nofile={soft}:{}", soft + extra)).unwrap();
            prop_assert_eq!((u.soft, u.hard), (soft, soft + extra));
        }
    }
}
