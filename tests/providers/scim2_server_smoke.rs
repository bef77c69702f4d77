//! The `scim2-server` harness works: the server starts, answers with the token, and each
//! test's tenant is its own.

use crate::common;

use common::{scim2_server_log, scim2_server_tenant, Tenant};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn create_user(http: &reqwest::Client, tenant: &Tenant, user_name: &str) -> (StatusCode, Value) {
    let response = http
        .post(format!("{}/Users", tenant.base_url))
        .bearer_auth(&tenant.token)
        .json(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
        }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn list_users(http: &reqwest::Client, tenant: &Tenant, filter: Option<&str>) -> Value {
    let mut request = http
        .get(format!("{}/Users", tenant.base_url))
        .bearer_auth(&tenant.token);
    if let Some(filter) = filter {
        request = request.query(&[("filter", filter)]);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{}", scim2_server_log());
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_created_user_is_listed() {
    let tenant = scim2_server_tenant();
    let http = reqwest::Client::new();

    let (status, created) = create_user(&http, &tenant, "alice").await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();

    let all = list_users(&http, &tenant, None).await;
    assert_eq!(all["totalResults"], 1, "{all}");
    assert_eq!(all["Resources"][0]["id"], id, "{all}");

    let found = list_users(&http, &tenant, Some(r#"userName eq "alice""#)).await;
    assert_eq!(found["totalResults"], 1, "{found}");
    assert_eq!(found["Resources"][0]["userName"], "alice", "{found}");
}

#[tokio::test]
async fn tenants_are_isolated() {
    let first = scim2_server_tenant();
    let second = scim2_server_tenant();
    assert_ne!(first.base_url, second.base_url);
    let http = reqwest::Client::new();

    let (status, body) = create_user(&http, &first, "bob").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    assert_eq!(list_users(&http, &second, None).await["totalResults"], 0);
    // userName is unique per tenant only: the same name is free in the other one.
    let (status, body) = create_user(&http, &second, "bob").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = create_user(&http, &first, "bob").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test]
async fn a_wrong_token_is_refused() {
    let tenant = scim2_server_tenant();
    let response = reqwest::Client::new()
        .get(format!("{}/Users", tenant.base_url))
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
