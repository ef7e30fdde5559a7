//! Image reference parsing on arbitrary strings: accept or refuse, never panic; what it
//! accepts prints back into something it accepts again, with the same meaning.
#![no_main]

use berth_image::Reference;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(reference) = Reference::parse(input) else {
        return;
    };
    let printed = reference.to_string();
    let again = Reference::parse(&printed).expect("a printed reference parses again");
    assert_eq!(again.to_string(), printed, "printing is stable");
    assert_eq!(again.name(), reference.name());
    assert_eq!(again.tag(), reference.tag());
    assert_eq!(again.digest(), reference.digest());
    let _ = reference.familiar();
});
