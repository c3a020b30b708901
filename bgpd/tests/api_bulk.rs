//! Large loads through default gRPC clients (issue #17 item 7): a SetPaths
//! of one million paths is accepted (`[api] max_message_bytes`), and bulk
//! answers stay within a default client's 4 MB limit (counts, and per-path
//! results only for failures beyond 65,536 paths).

mod support;

use ironlb_proto::bgpd::v1;
use prost::Message;
use support::*;

/// A default client refuses answers larger than this.
const DEFAULT_CLIENT_LIMIT: usize = 4 * 1024 * 1024;

fn host_route(index: u32) -> v1::Path {
    let prefix = format!("10.{}.{}.{}/32", (index >> 16) & 255, (index >> 8) & 255, index & 255);
    v1::Path { prefix, ..v1::Path::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_paths_of_a_million_host_routes_through_a_default_client() {
    const PATHS: u32 = 1_000_000;
    let (_daemon, mut client) = start_daemon(|_, api| with_api(GLOBAL, api), bgp_ready).await;
    let paths = (0..PATHS).map(host_route).collect();
    let request = v1::SetPathsRequest { owner: "bulk".into(), paths, grace_time_seconds: None };
    assert!(request.encoded_len() > DEFAULT_CLIENT_LIMIT, "the request is past gRPC's default");
    let answer = client.set_paths(request).await.expect("SetPaths").into_inner();
    assert!(answer.encoded_len() < DEFAULT_CLIENT_LIMIT, "{} bytes", answer.encoded_len());
    assert_eq!(answer.added_count, u64::from(PATHS));
    assert_eq!((answer.changed_count, answer.withdrawn_count), (0, 0));
    assert!(answer.prefixes_omitted && answer.added.is_empty());
    let info = client.get_info(v1::GetInfoRequest {}).await.expect("GetInfo").into_inner();
    assert_eq!(info.path_count, u64::from(PATHS));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_paths_stream_of_250k_paths_answers_within_a_default_client_limit() {
    const BATCH: u32 = 10_000;
    const BATCHES: u32 = 25;
    let (_daemon, mut client) = start_daemon(|_, api| with_api(GLOBAL, api), bgp_ready).await;
    let batches = (0..BATCHES).map(|b| {
        let mut paths: Vec<v1::Path> = (b * BATCH..(b + 1) * BATCH).map(host_route).collect();
        if b == 3 {
            paths[5].prefix = "10.0.0.1/33".to_string();
        }
        v1::AddPathsRequest { owner: "bulk".into(), paths }
    });
    let answer = client
        .add_paths_stream(tokio_stream::iter(batches))
        .await
        .expect("AddPathsStream")
        .into_inner();
    assert!(answer.encoded_len() < DEFAULT_CLIENT_LIMIT, "{} bytes", answer.encoded_len());
    let counts = answer.counts.expect("counts");
    assert_eq!(counts.added, u64::from(BATCH * BATCHES) - 1);
    assert_eq!(counts.rejected, 1);
    assert!(answer.successes_omitted);
    assert_eq!(answer.results.len(), 1, "only the failure is listed");
    let failure = &answer.results[0];
    assert_eq!(failure.index, u64::from(3 * BATCH + 5));
    assert_eq!(failure.prefix, "10.0.0.1/33");
    assert_eq!(failure.outcome, v1::PathOutcome::Rejected as i32);
}

#[tokio::test]
async fn small_add_paths_answers_keep_one_result_per_path() {
    let (_daemon, mut client) = start_daemon(|_, api| with_api(GLOBAL, api), bgp_ready).await;
    let request =
        v1::AddPathsRequest { owner: "small".into(), paths: (0..3).map(host_route).collect() };
    let answer = client.add_paths(request).await.expect("AddPaths").into_inner();
    assert!(!answer.successes_omitted);
    let indices: Vec<u64> = answer.results.iter().map(|r| r.index).collect();
    assert_eq!(indices, [0, 1, 2]);
    assert_eq!(answer.counts.expect("counts").added, 3);
}
