//! CI's soak (issue #17): the same code as `interop-tests/soak.sh` for 2 minutes, the first
//! one warm-up (see `interop_tests::soak::Options::ci` for the bounds).

#[test]
fn two_minute_soak() {
    let options = interop_tests::soak::Options {
        csv: std::env::temp_dir().join(format!("ironlb-soak-ci-{}.csv", std::process::id())),
        ..interop_tests::soak::Options::ci()
    };
    let report = match interop_tests::soak::run(&options) {
        Ok(report) => report,
        Err(error) => panic!("the soak could not run: {error}"),
    };
    println!("{report}");
    assert!(report.failures.is_empty(), "{report}");
}
