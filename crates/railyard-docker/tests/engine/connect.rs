use railyard_docker::{Docker, DockerError};

#[tokio::test]
async fn connects_and_pins_api_1_41() {
    let docker = Docker::connect().await.unwrap();
    assert_eq!(docker.api_version(), "1.41");
    assert!(docker.endpoint().starts_with("unix://") || docker.endpoint().starts_with("tcp://"));
    docker.client().ping().await.unwrap();
}

#[tokio::test]
async fn a_missing_socket_says_where_and_what_to_check() {
    let err = Docker::connect_to("unix:///nonexistent").await.unwrap_err();
    assert!(matches!(err, DockerError::Unreachable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("cannot reach Docker at unix:///nonexistent: is the daemon running? ("),
        "{text}"
    );
    assert!(text.contains("/nonexistent does not exist"), "{text}");
}

#[tokio::test]
async fn a_refused_tcp_port_is_unreachable_too() {
    // Port 1 on loopback: nothing listens there, the kernel refuses at once.
    let err = Docker::connect_to("tcp://127.0.0.1:1").await.unwrap_err();
    let text = err.to_string();
    assert!(err.is_unreachable(), "{err:?}");
    assert!(
        text.starts_with("cannot reach Docker at tcp://127.0.0.1:1: is the daemon running?"),
        "{text}"
    );
}

#[tokio::test]
async fn an_unknown_scheme_is_refused_with_the_accepted_forms() {
    let err = Docker::connect_to("ssh://somewhere").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("use unix:///path/to/docker.sock or tcp://host:port"),
        "{err}"
    );
}
