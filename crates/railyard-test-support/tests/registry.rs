//! The registry fixture answers, knows no tags of an empty repository, and is gone when
//! dropped.

use railyard_test_support::registry::Registry;

#[test]
fn a_registry_starts_answers_and_stops_when_dropped() {
    let Some(registry) = Registry::start() else {
        return;
    };
    assert!(registry.tags("nobody/app").is_empty());
    assert_eq!(registry.manifest_digest("nobody/app", "v1"), None);
    let host = registry.host.clone();
    drop(registry);
    assert!(
        std::net::TcpStream::connect(&host).is_err(),
        "{host} still answers"
    );
}
