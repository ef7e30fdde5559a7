//! The kernel's CPU list syntax (`0-3,6`), as in `--cpuset-cpus` and
//! `/sys/devices/system/cpu/online`.

use super::SpecError;

/// Above the kernel's largest NR_CPUS, so that `0-4000000000` cannot allocate gigabytes.
const MAX_CPU: u32 = 8191;

/// The CPUs `list` names, sorted, without repeats.
pub fn parse_cpus(list: &str) -> Result<Vec<u32>, SpecError> {
    let invalid = |why: &str| SpecError::Invalid(format!("invalid cpuset-cpus {list:?}: {why}"));
    let number = |text: &str| -> Result<u32, SpecError> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("expected CPU numbers such as 0-2,4"));
        }
        text.parse::<u32>()
            .ok()
            .filter(|cpu| *cpu <= MAX_CPU)
            .ok_or_else(|| invalid("CPU number out of range"))
    };
    let mut cpus = Vec::new();
    for item in list.split(',') {
        let (first, last) = match item.split_once('-') {
            Some((first, last)) => (number(first)?, number(last)?),
            None => {
                let cpu = number(item)?;
                (cpu, cpu)
            }
        };
        if first > last {
            return Err(invalid("a range must not run backwards"));
        }
        cpus.extend(first..=last);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

/// `cpus` (sorted) in list syntax, with runs collapsed.
pub fn format_cpus(cpus: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut iter = cpus.iter().copied().peekable();
    while let Some(first) = iter.next() {
        let mut last = first;
        while iter.peek() == Some(&(last + 1)) {
            last += 1;
            iter.next();
        }
        parts.push(if first == last {
            first.to_string()
        } else {
            format!("{first}-{last}")
        });
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_lists_and_ranges() {
        assert_eq!(parse_cpus("0").unwrap(), [0]);
        assert_eq!(parse_cpus("0-2,4").unwrap(), [0, 1, 2, 4]);
        assert_eq!(parse_cpus("3,1-2,2").unwrap(), [1, 2, 3]);
    }

    #[test]
    fn rejects_malformed_lists() {
        for bad in ["", ",", "0-", "-1", "a", "1-0", "0 - 1", "0-9000", "1,,2"] {
            assert!(parse_cpus(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn formats_runs() {
        assert_eq!(format_cpus(&[0, 1, 2, 4, 6, 7]), "0-2,4,6-7");
        assert_eq!(format_cpus(&[]), "");
    }

    proptest! {
        #[test]
        fn parse_never_panics(list in "[0-9,\\- ]{0,20}") {
            let _ = parse_cpus(&list);
        }

        #[test]
        fn format_then_parse_round_trips(cpus in proptest::collection::btree_set(0u32..64, 1..10)) {
            let cpus: Vec<u32> = cpus.into_iter().collect();
            prop_assert_eq!(parse_cpus(&format_cpus(&cpus)).unwrap(), cpus);
        }
    }
}
