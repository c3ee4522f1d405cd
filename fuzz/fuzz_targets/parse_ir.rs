//! The IR text parser on arbitrary input: it never panics, and whatever it accepts
//! prints back to text that parses to the same module.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(m) = kiln::ir::parse(text) {
        let printed = kiln::ir::print(&m);
        let again = kiln::ir::parse(&printed).expect("printed IR parses back");
        assert_eq!(kiln::ir::print(&again), printed, "print(parse(print(m))) == print(m)");
    }
});
