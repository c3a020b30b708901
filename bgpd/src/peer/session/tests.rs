use super::*;

#[test]
fn a_tcp_failure_is_described_with_its_cause() {
    let reason = DownReason::TcpConnectionFailed;
    assert_eq!(
        describe_with_cause(&reason, Some("Connection reset by peer (os error 104)".into())),
        "TCP connection failed or closed: Connection reset by peer (os error 104)"
    );
    assert_eq!(describe_with_cause(&reason, None), "TCP connection failed or closed");
    // Another reason keeps its own words; a stale TCP cause is not added.
    assert_eq!(describe_with_cause(&DownReason::Stopped, Some("x".into())), "stopped");
}
