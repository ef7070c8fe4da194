//! Alerts reach their own user only: each user's email is subscribed to the alert topic with a
//! filter policy on the `user_id` message attribute every alert carries, so a subscriber
//! receives the alerts of the user ids in their policy and nobody else's pictures.
//!
//! SNS asks the address to confirm a new subscription before it delivers anything: the first
//! alert of a new user subscribes them (and is not delivered to them unless they confirm
//! quickly); later alerts arrive once they have.

use aws_sdk_sns::Client;
use serde_json::json;

/// The filter policy delivering the alerts of these user ids.
pub fn filter_policy(user_ids: &[&str]) -> String {
    json!({ "user_id": user_ids }).to_string()
}

/// The user ids a filter policy admits (empty when it is not ours).
pub fn policy_user_ids(policy: &str) -> Vec<String> {
    serde_json::from_str::<serde_json::Value>(policy)
        .ok()
        .and_then(|v| v.get("user_id").cloned())
        .and_then(|ids| serde_json::from_value::<Vec<String>>(ids).ok())
        .unwrap_or_default()
}

/// What [`ensure_subscribed`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscription {
    /// The address was subscribed now, filtered to this user (it must confirm).
    Created,
    /// Its confirmed subscription did not admit this user: the user id was added.
    Extended,
    /// Already subscribed for this user, or waiting for the address to confirm.
    Present,
}

/// Makes sure `email` is subscribed to `topic_arn` for `user_id`'s alerts: subscribes it with a
/// filter policy, or adds the user id to the policy of its confirmed subscription (one address
/// may watch several users).
pub async fn ensure_subscribed(
    sns: &Client,
    topic_arn: &str,
    email: &str,
    user_id: &str,
) -> Result<Subscription, String> {
    let error = |e: &dyn std::fmt::Display| e.to_string();
    let mut next: Option<String> = None;
    loop {
        let page = sns
            .list_subscriptions_by_topic()
            .topic_arn(topic_arn)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| error(&aws_sdk_sns::error::DisplayErrorContext(&e)))?;
        for sub in page.subscriptions() {
            let same = sub.protocol() == Some("email")
                && sub
                    .endpoint()
                    .is_some_and(|endpoint| endpoint.eq_ignore_ascii_case(email));
            if !same {
                continue;
            }
            let arn = sub.subscription_arn().unwrap_or_default();
            // "PendingConfirmation": nothing can be changed until the address confirms.
            if !arn.starts_with("arn:") {
                return Ok(Subscription::Present);
            }
            let attributes = sns
                .get_subscription_attributes()
                .subscription_arn(arn)
                .send()
                .await
                .map_err(|e| error(&aws_sdk_sns::error::DisplayErrorContext(&e)))?;
            let policy = attributes
                .attributes()
                .and_then(|a| a.get("FilterPolicy"))
                .cloned()
                .unwrap_or_default();
            let mut ids = policy_user_ids(&policy);
            if ids.iter().any(|id| id == user_id) {
                return Ok(Subscription::Present);
            }
            ids.push(user_id.to_string());
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            sns.set_subscription_attributes()
                .subscription_arn(arn)
                .attribute_name("FilterPolicy")
                .attribute_value(filter_policy(&ids))
                .send()
                .await
                .map_err(|e| error(&aws_sdk_sns::error::DisplayErrorContext(&e)))?;
            return Ok(Subscription::Extended);
        }
        match page.next_token() {
            Some(token) if !token.is_empty() => next = Some(token.to_string()),
            _ => break,
        }
    }
    sns.subscribe()
        .topic_arn(topic_arn)
        .protocol("email")
        .endpoint(email)
        .attributes("FilterPolicy", filter_policy(&[user_id]))
        .return_subscription_arn(true)
        .send()
        .await
        .map_err(|e| error(&aws_sdk_sns::error::DisplayErrorContext(&e)))?;
    Ok(Subscription::Created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_name_their_users() {
        let policy = filter_policy(&["user_a", "user_b"]);
        assert_eq!(policy, r#"{"user_id":["user_a","user_b"]}"#);
        assert_eq!(policy_user_ids(&policy), ["user_a", "user_b"]);
        assert!(policy_user_ids("").is_empty());
        assert!(policy_user_ids(r#"{"other":["x"]}"#).is_empty());
    }
}
