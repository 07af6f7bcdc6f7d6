//! Account linking by verified email (opt-in per instance): a first login whose provider is
//! authoritative for its email joins the user that already holds that email.

use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use super::error::{build_err, classify, transaction_cancelled};
use super::items::{get_n, n, user_attributes};
use super::{keys, StoreError, UserStore};
use crate::identity::VerifiedIdentity;
use crate::instance::InstanceName;
use crate::records::UserRecord;

impl UserStore {
    /// Links `identity` to the user that holds `email` as verified, if there is one: one
    /// transaction puts the identity (with the user's snapshot) and adds it to the user,
    /// conditional on the user's key generation it read. `None`: no such user.
    pub(super) async fn link_by_email(
        &self,
        instance: &InstanceName,
        identity: &VerifiedIdentity,
        email: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        let provider = identity.provider.as_str();
        for _ in 0..3 {
            let item = self.get(keys::email(instance, email), true).await?;
            // Only an index entry written by an authoritative provider links (entries written
            // before the authority rules existed carry no `authoritative` flag, and never do).
            let Some(holder) = item.filter(|i| matches!(i.get("authoritative"), Some(AttributeValue::Bool(true))))
            else {
                return Ok(None);
            };
            let Some(user) = self.get_user(instance, get_n(&holder, "user_id")?).await? else { return Ok(None) };
            let mut identity_item = keys::identity(instance, provider, &identity.subject);
            identity_item.extend(user_attributes(&user));
            let add = aws_sdk_dynamodb::types::Update::builder()
                .table_name(&self.table)
                .set_key(Some(keys::user(instance, user.user_id)))
                .update_expression("ADD identities :id")
                // Not a user being deleted (its identities are deleted from the list it read).
                .condition_expression("key_generation = :gen AND attribute_not_exists(deleted_at)")
                .expression_attribute_values(
                    ":id",
                    AttributeValue::Ss(vec![format!("{provider}#{}", identity.subject)]),
                )
                .expression_attribute_values(":gen", n(user.key_generation))
                .build()
                .map_err(build_err)?;
            let result = self
                .client
                .transact_write_items()
                .transact_items(self.transact_put_new(identity_item)?)
                .transact_items(TransactWriteItem::builder().update(add).build())
                .send()
                .await;
            match result {
                Ok(_) => return Ok(Some(user)),
                Err(e) if transaction_cancelled(&e) => {
                    // This identity was created meanwhile, or the user's key was reset: look again.
                    if let Some(u) = self.find_by_identity(instance, provider, &identity.subject, true).await? {
                        return Ok(Some(u));
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => return Err(classify("TransactWriteItems", e)),
            }
        }
        Err(StoreError::Contention)
    }
}
