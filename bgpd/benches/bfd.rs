//! The per-packet cost of BFD outside the kernel: decode and encode of a
//! Control packet, and one received packet plus one transmission through an
//! Up session (what the I/O driver does ~23 times a second per session at
//! 50 ms). Run with `cargo bench -p bgpd --bench bfd`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bgpd::bfd::{
    ControlPacket, Diagnostic, Event, Session, SessionConfig, State, Timers, XorShift,
};
use criterion::{Criterion, criterion_group, criterion_main};

fn fast() -> SessionConfig {
    SessionConfig {
        timers: Timers {
            desired_min_tx: Duration::from_millis(50),
            required_min_rx: Duration::from_millis(50),
            detect_multiplier: 3,
        },
        ..SessionConfig::default()
    }
}

fn peer(state: State, your_discriminator: u32) -> ControlPacket {
    ControlPacket {
        diagnostic: Diagnostic::NoDiagnostic,
        state,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_multiplier: 3,
        my_discriminator: 0x2222,
        your_discriminator,
        desired_min_tx: 50_000,
        required_min_rx: 50_000,
        required_min_echo_rx: 0,
        authentication: None,
    }
}

fn codec(c: &mut Criterion) {
    let mut bytes = Vec::new();
    if let Err(error) = peer(State::Up, 0x1111).encode(&mut bytes) {
        panic!("{error}");
    }
    c.bench_function("bfd_decode", |b| b.iter(|| ControlPacket::decode(black_box(&bytes))));
    let packet = peer(State::Up, 0x1111);
    let mut out = Vec::with_capacity(64);
    c.bench_function("bfd_encode", |b| b.iter(|| black_box(&packet).encode(&mut out)));
}

fn session(c: &mut Criterion) {
    let mut random = XorShift::new(7);
    let mut now = Instant::now();
    let mut session = match Session::new(fast(), 0x1111) {
        Ok(session) => session,
        Err(error) => panic!("{error}"),
    };
    session.start(now, &mut random);
    session.handle(Event::ControlPacketReceived(peer(State::Init, 0x1111)), now, &mut random);
    let answer = ControlPacket { final_: true, ..peer(State::Up, 0x1111) };
    session.handle(Event::ControlPacketReceived(answer), now, &mut random);
    assert_eq!(session.state(), State::Up);
    c.bench_function("bfd_session_receive_and_transmit", |b| {
        b.iter(|| {
            now += Duration::from_millis(50);
            let packet = peer(State::Up, 0x1111);
            black_box(session.handle(Event::ControlPacketReceived(packet), now, &mut random));
            black_box(session.handle(Event::TransmitTimerExpired, now, &mut random));
        })
    });
}

criterion_group!(benches, codec, session);
criterion_main!(benches);
