//! The process's rlimits: Docker's default `nofile` of 1048576, lowered to the host's hard limit
//! (this is where Podman fails on hosts with a low one), plus validated `--ulimit` values.

use std::collections::BTreeMap;

use berth_proto::node::v1::Ulimit;
use nix::sys::resource::{getrlimit, Resource, RLIM_INFINITY};
use oci_spec::runtime::{PosixRlimit, PosixRlimitBuilder, PosixRlimitType};

use super::SpecError;

/// Docker's default open-file limit.
const DEFAULT_NOFILE: u64 = 1_048_576;

/// `--ulimit` names (Docker's), with their OCI type and host resource.
const LIMITS: [(&str, PosixRlimitType, Resource); 16] = [
    ("as", PosixRlimitType::RlimitAs, Resource::RLIMIT_AS),
    ("core", PosixRlimitType::RlimitCore, Resource::RLIMIT_CORE),
    ("cpu", PosixRlimitType::RlimitCpu, Resource::RLIMIT_CPU),
    ("data", PosixRlimitType::RlimitData, Resource::RLIMIT_DATA),
    (
        "fsize",
        PosixRlimitType::RlimitFsize,
        Resource::RLIMIT_FSIZE,
    ),
    (
        "locks",
        PosixRlimitType::RlimitLocks,
        Resource::RLIMIT_LOCKS,
    ),
    (
        "memlock",
        PosixRlimitType::RlimitMemlock,
        Resource::RLIMIT_MEMLOCK,
    ),
    (
        "msgqueue",
        PosixRlimitType::RlimitMsgqueue,
        Resource::RLIMIT_MSGQUEUE,
    ),
    ("nice", PosixRlimitType::RlimitNice, Resource::RLIMIT_NICE),
    (
        "nofile",
        PosixRlimitType::RlimitNofile,
        Resource::RLIMIT_NOFILE,
    ),
    (
        "nproc",
        PosixRlimitType::RlimitNproc,
        Resource::RLIMIT_NPROC,
    ),
    ("rss", PosixRlimitType::RlimitRss, Resource::RLIMIT_RSS),
    (
        "rtprio",
        PosixRlimitType::RlimitRtprio,
        Resource::RLIMIT_RTPRIO,
    ),
    (
        "rttime",
        PosixRlimitType::RlimitRttime,
        Resource::RLIMIT_RTTIME,
    ),
    (
        "sigpending",
        PosixRlimitType::RlimitSigpending,
        Resource::RLIMIT_SIGPENDING,
    ),
    (
        "stack",
        PosixRlimitType::RlimitStack,
        Resource::RLIMIT_STACK,
    ),
];

/// The table index of a `--ulimit` name (any case).
pub fn limit_index(name: &str) -> Result<usize, SpecError> {
    LIMITS
        .iter()
        .position(|(known, _, _)| known.eq_ignore_ascii_case(name))
        .ok_or_else(|| SpecError::Invalid(format!("invalid ulimit type: {name:?}")))
}

/// The host's hard limit of `resource` (the daemon's own, as the container inherits it).
fn host_hard_limit(resource: Resource) -> u64 {
    getrlimit(resource).map_or(RLIM_INFINITY, |(_, hard)| hard)
}

/// Default and requested rlimits, checked against the host's hard limits.
pub fn rlimits(ulimits: &[Ulimit]) -> Result<Vec<PosixRlimit>, SpecError> {
    rlimits_with(ulimits, host_hard_limit)
}

/// [`rlimits`] with the host's hard limits given by `host_hard`.
fn rlimits_with(
    ulimits: &[Ulimit],
    host_hard: impl Fn(Resource) -> u64,
) -> Result<Vec<PosixRlimit>, SpecError> {
    let nofile = limit_index("nofile")?;
    let default_nofile = DEFAULT_NOFILE.min(host_hard(Resource::RLIMIT_NOFILE));
    let mut chosen = BTreeMap::from([(nofile, (default_nofile, default_nofile))]);
    let mut seen = Vec::new();
    for ulimit in ulimits {
        let index = limit_index(&ulimit.name)?;
        let (name, _, resource) = LIMITS[index];
        if seen.contains(&index) {
            return Err(SpecError::Invalid(format!("ulimit {name} is given twice")));
        }
        seen.push(index);
        let soft = limit_value(name, "soft", ulimit.soft)?;
        let hard = limit_value(name, "hard", ulimit.hard)?;
        if soft > hard {
            return Err(SpecError::Invalid(format!(
                "ulimit {name}: soft limit {} is above the hard limit {}",
                ulimit.soft, ulimit.hard
            )));
        }
        let host = host_hard(resource);
        if hard > host {
            return Err(SpecError::Invalid(format!(
                "ulimit {name}: hard limit {} is above the host's hard limit {host}",
                ulimit.hard
            )));
        }
        chosen.insert(index, (soft, hard));
    }
    chosen
        .into_iter()
        .map(|(index, (soft, hard))| {
            PosixRlimitBuilder::default()
                .typ(LIMITS[index].1)
                .soft(soft)
                .hard(hard)
                .build()
                .map_err(|e| SpecError::Invalid(format!("ulimit {}: {e}", LIMITS[index].0)))
        })
        .collect()
}

/// A limit value: a count, or -1 for unlimited.
fn limit_value(name: &str, which: &str, value: i64) -> Result<u64, SpecError> {
    match value {
        -1 => Ok(RLIM_INFINITY),
        v => u64::try_from(v).map_err(|_| {
            SpecError::Invalid(format!(
                "ulimit {name}: invalid {which} limit {value} (a count, or -1 for unlimited)"
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ulimit(name: &str, soft: i64, hard: i64) -> Ulimit {
        Ulimit {
            name: name.into(),
            soft,
            hard,
        }
    }

    /// A host like this machine: hard nofile 20000, everything else unlimited.
    fn host(resource: Resource) -> u64 {
        if resource == Resource::RLIMIT_NOFILE {
            20_000
        } else {
            RLIM_INFINITY
        }
    }

    fn find(limits: &[PosixRlimit], typ: PosixRlimitType) -> (u64, u64) {
        let l = limits.iter().find(|l| l.typ() == typ).unwrap();
        (l.soft(), l.hard())
    }

    #[test]
    fn default_nofile_is_capped_by_the_host() {
        let limits = rlimits_with(&[], host).unwrap();
        assert_eq!(limits.len(), 1);
        assert_eq!(
            find(&limits, PosixRlimitType::RlimitNofile),
            (20_000, 20_000)
        );
        let roomy = rlimits_with(&[], |_| RLIM_INFINITY).unwrap();
        assert_eq!(
            find(&roomy, PosixRlimitType::RlimitNofile),
            (DEFAULT_NOFILE, DEFAULT_NOFILE)
        );
    }

    #[test]
    fn real_host_default_never_exceeds_its_hard_limit() {
        let limits = rlimits(&[]).unwrap();
        let (_, hard) = find(&limits, PosixRlimitType::RlimitNofile);
        assert!(hard <= getrlimit(Resource::RLIMIT_NOFILE).unwrap().1);
    }

    #[test]
    fn ulimits_override_and_add() {
        let limits = rlimits_with(
            &[ulimit("nofile", 512, 1024), ulimit("NPROC", 100, -1)],
            host,
        )
        .unwrap();
        assert_eq!(find(&limits, PosixRlimitType::RlimitNofile), (512, 1024));
        assert_eq!(
            find(&limits, PosixRlimitType::RlimitNproc),
            (100, RLIM_INFINITY)
        );
    }

    #[test]
    fn bad_ulimits_are_errors() {
        let cases = [
            (ulimit("nofiles", 1, 1), "invalid ulimit type: \"nofiles\""),
            (
                ulimit("nofile", 10, 5),
                "ulimit nofile: soft limit 10 is above the hard limit 5",
            ),
            (
                ulimit("nofile", 100, 30_000),
                "ulimit nofile: hard limit 30000 is above the host's hard limit 20000",
            ),
            (
                ulimit("nofile", -1, -1),
                "ulimit nofile: hard limit -1 is above the host's hard limit 20000",
            ),
            (
                ulimit("core", -2, 5),
                "ulimit core: invalid soft limit -2 (a count, or -1 for unlimited)",
            ),
            (ulimit("core", 5, -1), ""),
        ];
        for (bad, message) in cases {
            match rlimits_with(std::slice::from_ref(&bad), host) {
                Err(err) => assert_eq!(err.to_string(), message, "{bad:?}"),
                Ok(_) => assert!(message.is_empty(), "{bad:?} was accepted"),
            }
        }
        let twice = rlimits_with(&[ulimit("core", 1, 1), ulimit("core", 2, 2)], host);
        assert_eq!(twice.unwrap_err().to_string(), "ulimit core is given twice");
    }

    proptest! {
        #[test]
        fn never_panics_and_respects_the_host(name in "[a-zA-Z_]{0,12}", soft in any::<i64>(), hard in any::<i64>()) {
            if let Ok(limits) = rlimits_with(&[ulimit(&name, soft, hard)], host) {
                for limit in limits {
                    prop_assert!(limit.soft() <= limit.hard());
                    if limit.typ() == PosixRlimitType::RlimitNofile {
                        prop_assert!(limit.hard() <= 20_000);
                    }
                }
            }
        }

        #[test]
        fn every_name_is_known(index in 0usize..16) {
            prop_assert_eq!(limit_index(LIMITS[index].0).unwrap(), index);
        }
    }
}
