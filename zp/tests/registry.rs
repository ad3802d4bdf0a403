//! The benchmark registry (`benches/suite/`) and `profiles/budgets.toml`
//! must name the same benchmarks in the same categories: the workbench
//! reads the budgets, the probe and the criterion targets read the
//! registry, and a name in only one of them is a benchmark nobody
//! measures or a budget nobody checks.

#[path = "../benches/suite/mod.rs"]
mod suite;

use std::collections::BTreeMap;

#[test]
fn the_registry_and_the_budgets_name_the_same_benchmarks_and_categories() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../profiles/budgets.toml");
    let budgets: toml::Table = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let budgeted: BTreeMap<String, String> = budgets["benchmarks"]
        .as_table()
        .unwrap()
        .iter()
        .map(|(name, v)| (name.clone(), v["category"].as_str().unwrap().to_string()))
        .collect();
    let registered: BTreeMap<String, String> = suite::all()
        .iter()
        .map(|b| (b.name.to_string(), b.category.as_str().to_string()))
        .collect();
    assert_eq!(
        registered.len(),
        suite::all().len(),
        "a name is registered twice"
    );
    assert_eq!(registered.len(), 21, "the requirements name 21 benchmarks");
    assert_eq!(registered, budgeted);
}
