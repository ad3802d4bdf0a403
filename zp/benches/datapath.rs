//! Criterion target for the datapath benchmarks of the registry in `suite/`.

mod suite;

fn benches(c: &mut criterion::Criterion) {
    suite::criterion_benches(c, suite::Category::Datapath);
}

criterion::criterion_group!(group, benches);
criterion::criterion_main!(group);
