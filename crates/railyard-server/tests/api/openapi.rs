//! The OpenAPI document against the served API: every documented operation is served
//! (neither the fallback's 404 nor 405), so the document cannot list a route that is gone.
//! The server crate's unit test checks the other way, every routed path documented.

use railyard_test_support::http::json as http;

use crate::server::Server;

#[test]
fn every_documented_operation_is_served() {
    let server = Server::start();
    let url = server.url.clone();
    let (status, body) = http(&url, "GET", "/api/v1/openapi.json", None, "");
    assert_eq!(status, 200, "{body}");
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let mut probed = 0;
    for (path, item) in paths {
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().unwrap().keys() {
            // No token: a served route answers 401 (or 200 when open), never the fallback.
            let (status, body) = http(&url, &method.to_uppercase(), &concrete, None, "{}");
            assert_ne!(status, 405, "{method} {path}: {body}");
            assert!(
                !body.contains("no such endpoint"),
                "{method} {path} is documented but not served: {status} {body}"
            );
            probed += 1;
        }
    }
    assert!(probed >= 20, "only {probed} operations documented");
    // And an undocumented one does reach the fallback, so the check above can fail.
    let (status, body) = http(&url, "GET", "/api/v1/nothing", None, "");
    assert_eq!(status, 404);
    assert!(body.contains("no such endpoint"), "{body}");
}
