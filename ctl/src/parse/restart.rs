//! `--restart no|on-failure[:N]|always|unless-stopped`.

use berth_proto::node::v1::{RestartPolicy, RestartPolicyName};

/// Parses a restart policy as Docker writes it.
pub fn parse_restart_policy(text: &str) -> Result<RestartPolicy, String> {
    let (name, count) = match text.split_once(':') {
        Some((name, count)) => (name, Some(count)),
        None => (text, None),
    };
    let name = match name {
        "" if count.is_some() => {
            return Err("invalid restart policy format: no policy provided before colon".into())
        }
        "no" | "" => RestartPolicyName::No,
        "always" => RestartPolicyName::Always,
        "unless-stopped" => RestartPolicyName::UnlessStopped,
        "on-failure" => RestartPolicyName::OnFailure,
        other => return Err(format!("invalid restart policy '{other}'")),
    };
    let maximum_retry_count = match count {
        None => 0,
        Some(_) if name != RestartPolicyName::OnFailure => {
            return Err(format!(
                "invalid restart policy '{text}': maximum retry count can only be used with 'on-failure'"
            ))
        }
        Some(count) => count
            .parse::<u16>()
            .map(i32::from)
            .map_err(|_| format!("invalid restart policy '{text}': maximum retry count must be a non-negative integer"))?,
    };
    Ok(RestartPolicy {
        name: name as i32,
        maximum_retry_count,
    })
}

/// Docker's name of a restart policy (`no`, `on-failure`, …), as inspect shows it.
pub fn restart_policy_name(name: RestartPolicyName) -> &'static str {
    match name {
        RestartPolicyName::Unspecified | RestartPolicyName::No => "no",
        RestartPolicyName::OnFailure => "on-failure",
        RestartPolicyName::Always => "always",
        RestartPolicyName::UnlessStopped => "unless-stopped",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parsed(text: &str) -> (RestartPolicyName, i32) {
        let p = parse_restart_policy(text).unwrap();
        (p.name(), p.maximum_retry_count)
    }

    #[test]
    fn policies() {
        assert_eq!(parsed("no"), (RestartPolicyName::No, 0));
        assert_eq!(parsed("always"), (RestartPolicyName::Always, 0));
        assert_eq!(
            parsed("unless-stopped"),
            (RestartPolicyName::UnlessStopped, 0)
        );
        assert_eq!(parsed("on-failure"), (RestartPolicyName::OnFailure, 0));
        assert_eq!(parsed("on-failure:5"), (RestartPolicyName::OnFailure, 5));
    }

    #[test]
    fn bad_policies() {
        for bad in [
            "sometimes",
            "always:3",
            ":3",
            "on-failure:x",
            "on-failure:-1",
            "no:1",
        ] {
            assert!(parse_restart_policy(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn names_round_trip() {
        for text in ["no", "on-failure", "always", "unless-stopped"] {
            assert_eq!(restart_policy_name(parsed(text).0), text);
        }
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,20}") {
            let _ = parse_restart_policy(&text);
        }
    }
}
